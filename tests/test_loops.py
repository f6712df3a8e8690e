"""Which event loop each test and async fixture runs on ("loops that just work").

Inner tests record loop identities in a log file through a small `rec`
helper module (which keeps the loops alive, so ids stay unique); the outer
test reads the log back and checks which tests shared a loop.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inner import REC, groups, loops_by_name, partition, read_log

Run = Callable[..., pytest.RunResult]

LOG_LOOP_TEST = """
        async def test_{n}(self):
            rec.note("{n}", rec.loop_id())
"""


# -- the default: a fresh loop per test -----------------------------------------------------


def test_each_test_gets_a_fresh_loop_closed_after_it(pytester: pytest.Pytester, run: Run) -> None:
    """With no wide async fixture, every test (and its function fixtures) has its own loop."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_fresh="""
        import asyncio
        import pytest
        import rec

        @pytest.fixture
        async def function_fixture():
            return asyncio.get_running_loop()

        async def test_first(function_fixture):
            assert function_fixture is asyncio.get_running_loop()
            rec.note("first", rec.remember("first"))

        async def test_second(function_fixture):
            assert function_fixture is asyncio.get_running_loop()
            rec.note("second", rec.remember("second"))
            rec.note("first-closed", rec.LOOPS["first"].is_closed())

        def test_after():
            rec.note("second-closed", rec.LOOPS["second"].is_closed())
        """
    )
    result = run()
    result.assert_outcomes(passed=3)
    log = loops_by_name(pytester)
    assert log["first"] != log["second"]
    assert log["first-closed"] == "True"
    assert log["second-closed"] == "True"


# -- wide async fixtures: one shared loop ---------------------------------------------------

SESSION_SERVICES = """
import asyncio
import pytest

async def echo(reader, writer):
    writer.write(await reader.readline())
    await writer.drain()
    writer.close()

@pytest.fixture(scope="session")
async def services():
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield {
        "queue": asyncio.Queue(),
        "lock": asyncio.Lock(),
        "future": loop.create_future(),
        "port": port,
    }
    server.close()
    await server.wait_closed()

@pytest.fixture
async def client(services):
    reader, writer = await asyncio.open_connection("127.0.0.1", services["port"])
    yield reader, writer
    writer.close()
    await writer.wait_closed()
"""


def test_session_fixture_objects_work_from_every_module(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Loop-bound objects from a session async fixture work in tests of several modules."""
    pytester.makeconftest(SESSION_SERVICES)
    pytester.makepyfile(
        test_a="""
        import asyncio

        async def test_producer(services, client):
            reader, writer = client
            writer.write(b"ping a\\n")
            assert await asyncio.wait_for(reader.readline(), 2) == b"ping a\\n"
            queue, lock = services["queue"], services["lock"]
            # a waiting get() and a contended acquire() bind both to this test's loop
            getter = asyncio.create_task(queue.get())
            await lock.acquire()
            waiter = asyncio.create_task(lock.acquire())
            await asyncio.sleep(0)
            await queue.put("first")
            lock.release()
            assert await getter == "first"
            await waiter  # the lock stays held, for test_b to take over
            services["future"].set_result("done in a")
        """,
        test_b="""
        import asyncio

        async def test_consumer(services, client):
            reader, writer = client
            writer.write(b"ping b\\n")
            assert await asyncio.wait_for(reader.readline(), 2) == b"ping b\\n"
            queue, lock = services["queue"], services["lock"]
            loop = asyncio.get_running_loop()
            loop.call_soon(queue.put_nowait, "second")
            assert await asyncio.wait_for(queue.get(), 2) == "second"
            loop.call_soon(lock.release)
            await asyncio.wait_for(lock.acquire(), 2)
            lock.release()
            assert await services["future"] == "done in a"

        def test_sync_user(services):
            assert services["queue"].empty()
            assert not services["lock"].locked()
        """,
    )
    result = run()
    result.assert_outcomes(passed=3)
    result.stdout.no_fnmatch_line("*different*loop*")


def test_module_fixture_gets_a_module_loop(pytester: pytest.Pytester, run: Run) -> None:
    """A module async fixture shares one loop with its module's users, closed at module end."""
    pytester.makepyfile(rec=REC)
    pytester.makeconftest(
        """
        import pytest
        import rec

        @pytest.fixture(scope="module")
        async def mod(request):
            name = request.module.__name__
            rec.note(name + "-fixture", rec.remember(name))
            yield
            rec.note(name + "-teardown", rec.loop_id())
        """
    )
    module = """
        import rec

        async def test_1(mod):
            rec.note("{m}1", rec.loop_id())

        async def test_2(mod):
            rec.note("{m}2", rec.loop_id())

        async def test_3_without_fixture():
            rec.note("{m}3", rec.loop_id())
        """
    pytester.makepyfile(
        test_a=module.format(m="a"),
        test_b=module.format(m="b"),
        test_c="""
        import rec

        def test_after():
            rec.note("a-closed", rec.LOOPS["test_a"].is_closed())
        """,
    )
    result = run()
    result.assert_outcomes(passed=7)
    loops = loops_by_name(pytester)
    assert loops.pop("a-closed") == "True"
    assert partition(loops) == groups(
        "test_a-fixture a1 a2 test_a-teardown", "a3", "test_b-fixture b1 b2 test_b-teardown", "b3"
    )


def test_fixtures_of_different_scopes_share_the_widest_loop(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A module fixture used with a session fixture runs on the session loop, as do its tests."""
    pytester.makepyfile(rec=REC)
    pytester.makeconftest(
        """
        import pytest
        import rec

        @pytest.fixture(scope="session")
        async def wide():
            rec.note("session", rec.loop_id())

        @pytest.fixture(scope="module")
        async def narrow(request):
            rec.note("module-" + request.module.__name__, rec.loop_id())
        """
    )
    pytester.makepyfile(
        test_a="""
        import rec

        async def test_a(wide, narrow):
            rec.note("a", rec.loop_id())
        """,
        test_b="""
        import rec

        async def test_b(narrow):
            rec.note("b", rec.loop_id())
        """,
    )
    result = run()
    result.assert_outcomes(passed=2)
    assert partition(loops_by_name(pytester)) == groups(
        "session module-test_a a", "module-test_b b"
    )


# -- explicit loop scopes -------------------------------------------------------------------

LAYOUT = {
    "pkg1/test_a.py": ("TestA", ["t1", "t2"]),
    "pkg1/test_a2.py": ("TestB", ["t3"]),
    "pkg1/test_b.py": ("TestC", ["t4"]),
    "pkg2/test_c.py": ("TestD", ["t5"]),
}

EXPECTED_PARTITIONS = {
    "function": groups("t1", "t2", "t3", "t4", "t5"),
    "class": groups("t1 t2", "t3", "t4", "t5"),
    "module": groups("t1 t2 t3", "t4", "t5"),
    "package": groups("t1 t2 t3 t4", "t5"),
    "session": groups("t1 t2 t3 t4 t5"),
}


def write_layout(pytester: pytest.Pytester, how: str, scope: str) -> None:
    """Write two packages of test classes, their loop scope set `how`."""
    pytester.makepyfile(rec=REC)
    pytester.mkpydir("pkg1")
    pytester.mkpydir("pkg2")
    files: dict[str, str] = {}
    # test_a.py holds two classes: TestA (t1, t2) and TestB (t3).
    for path, (cls, tests) in LAYOUT.items():
        target = "pkg1/test_a.py" if path == "pkg1/test_a2.py" else path
        source = files.get(target, "import pytest\nimport rec\n")
        if how == "pytestmark" and target not in files:
            source += f"\npytestmark = pytest.mark.awaitest(loop_scope={scope!r})\n"
        if how == "class-marker":
            source += f"\n@pytest.mark.awaitest(loop_scope={scope!r})"
        source += f"\nclass {cls}:\n"
        for n in tests:
            source += f"    async def test_{n}(self):\n        rec.note({n!r}, rec.loop_id())\n"
        files[target] = source
    for target, source in files.items():
        (pytester.path / target).write_text(source)
    if how == "ini":
        pytester.makeini(f"[pytest]\nawaitest_default_loop_scope = {scope}\n")


@pytest.mark.parametrize("scope", list(EXPECTED_PARTITIONS))
@pytest.mark.parametrize("how", ["ini", "pytestmark", "class-marker"])
def test_explicit_loop_scope_is_honoured_exactly(
    pytester: pytest.Pytester, run: Run, how: str, scope: str
) -> None:
    """A loop scope from the ini default, a module pytestmark or a class marker groups tests."""
    write_layout(pytester, how, scope)
    result = run()
    result.assert_outcomes(passed=5)
    assert partition(loops_by_name(pytester)) == EXPECTED_PARTITIONS[scope]


def test_closest_loop_scope_wins(pytester: pytest.Pytester, run: Run) -> None:
    """A function marker beats a class marker, which beats pytestmark, which beats the ini."""
    pytester.makepyfile(rec=REC)
    pytester.makeini("[pytest]\nawaitest_default_loop_scope = session\n")
    pytester.makepyfile(
        test_mod1="""
        import pytest
        import rec

        pytestmark = pytest.mark.awaitest(loop_scope="module")

        async def test_m1():
            rec.note("m1", rec.loop_id())

        async def test_m2():
            rec.note("m2", rec.loop_id())

        @pytest.mark.awaitest(loop_scope="function")
        async def test_own():
            rec.note("own", rec.loop_id())

        @pytest.mark.awaitest(loop_scope="class")
        class TestC:
            async def test_c1(self):
                rec.note("c1", rec.loop_id())

            async def test_c2(self):
                rec.note("c2", rec.loop_id())
        """,
        test_mod2="""
        import rec

        async def test_s1():
            rec.note("s1", rec.loop_id())
        """,
        test_mod3="""
        import rec

        async def test_s2():
            rec.note("s2", rec.loop_id())
        """,
    )
    result = run()
    result.assert_outcomes(passed=7)
    assert partition(loops_by_name(pytester)) == groups("m1 m2", "own", "c1 c2", "s1 s2")


@pytest.mark.parametrize(
    ("loop_scope", "expected"),
    [
        ("module", groups("fa1 fa2 a1 a2", "fb1 b1")),
        ("session", groups("fa1 fa2 a1 a2 fb1 b1")),
    ],
)
def test_fixture_loop_scope_is_honoured(
    pytester: pytest.Pytester, run: Run, loop_scope: str, expected: set[frozenset[str]]
) -> None:
    """awaitest.fixture(loop_scope=...) puts a function fixture, and its tests, on that loop."""
    pytester.makepyfile(rec=REC)
    pytester.makeconftest(
        f"""
        import awaitest
        import rec

        @awaitest.fixture(loop_scope={loop_scope!r})
        async def pinned(request):
            name = "f" + request.module.__name__[-1] + request.node.name[-1]
            rec.note(name, rec.loop_id())
        """
    )
    pytester.makepyfile(
        test_a="""
        import rec

        async def test_1(pinned):
            rec.note("a1", rec.loop_id())

        async def test_2(pinned):
            rec.note("a2", rec.loop_id())
        """,
        test_b="""
        import rec

        async def test_1(pinned):
            rec.note("b1", rec.loop_id())
        """,
    )
    result = run()
    result.assert_outcomes(passed=3)
    assert partition(loops_by_name(pytester)) == expected


def test_module_fixture_with_session_loop_scope_shares_one_loop(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A module fixture with loop_scope='session' has one instance per module, all on one loop."""
    pytester.makepyfile(rec=REC)
    pytester.makeconftest(
        """
        import awaitest
        import rec

        @awaitest.fixture(scope="module", loop_scope="session")
        async def per_module(request):
            name = request.module.__name__
            rec.note("fixture-" + name, rec.remember(name))
            yield name
            rec.note("teardown-" + name, rec.loop_id())
        """
    )
    module = """
        import rec

        async def test_it(per_module):
            rec.note("test-" + per_module, rec.loop_id())
        """
    pytester.makepyfile(test_a=module, test_b=module)
    result = run()
    result.assert_outcomes(passed=2)
    log = read_log(pytester)
    assert [line.split()[0] for line in log] == [
        "fixture-test_a",
        "test-test_a",
        "teardown-test_a",
        "fixture-test_b",
        "test-test_b",
        "teardown-test_b",
    ]
    assert len({line.split()[1] for line in log}) == 1


# -- loop mismatches ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["marker", "ini"])
def test_loop_mismatch_error_names_the_fixture_and_the_fix(
    pytester: pytest.Pytester, run: Run, how: str
) -> None:
    """A test pinned to its own loop using a session fixture's future fails with the hint."""
    if how == "ini":
        pytester.makeini("[pytest]\nawaitest_default_loop_scope = function\n")
        marker = ""
    else:
        marker = "@pytest.mark.awaitest(loop_scope='function')"
    pytester.makepyfile(
        test_mismatch=f"""
        import asyncio
        import pytest

        @pytest.fixture(scope="session")
        async def shared():
            return asyncio.get_running_loop().create_future()

        {marker}
        async def test_pinned(shared):
            await shared
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*awaitest*LoopMismatchError: test_mismatch.py::test_pinned: the test used an "
            "object bound to another event loop.",
            "*  The test runs on the loop of test test_mismatch.py::test_pinned.",
            "*  fixture 'shared' (session scope) was set up on the session loop.",
            "*  Fix: drop the explicit loop_scope (marker, awaitest.fixture or "
            "awaitest_default_loop_scope) so awaitest runs them on one loop, or give the test "
            "the fixtures' loop with @pytest.mark.awaitest(loop_scope='<their scope>').",
        ]
    )
    result.stdout.fnmatch_lines(["*attached to a different loop*"])  # the cause is kept


def test_loop_mismatch_error_names_the_loops_of_other_scopes(
    pytester: pytest.Pytester, run: Run
) -> None:
    """The hint names a module loop and a class loop by their node ids."""
    pytester.makepyfile(
        test_labels="""
        import asyncio
        import awaitest
        import pytest

        @awaitest.fixture(scope="module", loop_scope="module")
        async def pending():
            return asyncio.get_running_loop().create_future()

        @pytest.mark.awaitest(loop_scope="class")
        class TestPinned:
            async def test_it(self, pending):
                await pending
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*LoopMismatchError: test_labels.py::TestPinned::test_it: the test used an object "
            "bound to another event loop.",
            "*  The test runs on the class loop of test_labels.py::TestPinned.",
            "*  fixture 'pending' (module scope) was set up on the module loop of test_labels.py.",
        ]
    )


def test_loop_mismatch_from_a_sync_fixture_says_where_to_create_it(
    pytester: pytest.Pytester, run: Run
) -> None:
    """An object bound to a loop no async fixture runs on gets the 'create it there' hint."""
    pytester.makepyfile(
        test_foreign="""
        import asyncio
        import pytest

        @pytest.fixture
        def stray_future():
            loop = asyncio.new_event_loop()
            yield loop.create_future()
            loop.close()

        async def test_it(stray_future):
            await stray_future
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E*LoopMismatchError: test_foreign.py::test_it: the test used an object bound to "
            "another event loop.",
            "*  The test runs on the loop of test test_foreign.py::test_it.",
            "*  None of its async fixtures runs on another loop: the object was probably created "
            "at import time or in a sync fixture with another loop. Create it inside an async "
            "fixture instead.",
        ]
    )


# -- the thread's current loop --------------------------------------------------------------


def test_get_event_loop_in_sync_code_returns_the_shared_loop(
    pytester: pytest.Pytester, run: Run
) -> None:
    """asyncio.get_event_loop() in sync tests and fixtures returns the open shared loop."""
    pytester.makepyfile(
        test_current="""
        import asyncio
        import pytest

        @pytest.fixture(scope="session")
        async def session_loop():
            return asyncio.get_running_loop()

        @pytest.fixture
        def sync_sees(session_loop):
            return asyncio.get_event_loop()

        def test_sync_test(session_loop):
            assert asyncio.get_event_loop() is session_loop

        def test_sync_fixture_of_sync_test(session_loop, sync_sees):
            assert sync_sees is session_loop

        async def test_sync_fixture_of_async_test(session_loop, sync_sees):
            assert sync_sees is session_loop is asyncio.get_running_loop()
        """
    )
    result = run()
    result.assert_outcomes(passed=3)


def test_get_event_loop_in_sync_fixture_returns_the_tests_own_loop(
    pytester: pytest.Pytester, run: Run
) -> None:
    """asyncio.get_event_loop() in a sync fixture of an async test returns that test's loop."""
    pytester.makepyfile(
        test_current="""
        import asyncio
        import pytest

        @pytest.fixture
        def sync_sees():
            return asyncio.get_event_loop()

        async def test_first(sync_sees):
            assert sync_sees is asyncio.get_running_loop()

        async def test_second(sync_sees):
            assert sync_sees is asyncio.get_running_loop()
        """
    )
    result = run()
    result.assert_outcomes(passed=2)


def test_sync_fixture_after_a_fixtureless_async_test_sees_the_tests_loop(
    pytester: pytest.Pytester, run: Run
) -> None:
    """An async test with no fixtures leaves nothing behind that changes the next test's loop."""
    pytester.makeconftest(
        """
        import asyncio
        import pytest

        @pytest.fixture(scope="module")
        async def shared():
            return asyncio.get_running_loop()

        @pytest.fixture
        def current():
            return asyncio.get_event_loop()
        """
    )
    pytester.makepyfile(
        """
        import asyncio

        def test_first(shared):
            pass

        async def test_without_fixtures():
            await asyncio.sleep(0)

        def test_sync(current, shared):
            assert current is shared
        """
    )
    run().assert_outcomes(passed=3)


def test_a_loop_closed_by_a_sync_fixture_is_replaced(pytester: pytest.Pytester, run: Run) -> None:
    """A fixture that closes the current loop (or calls asyncio.run) does not break the test."""
    pytester.makepyfile(
        """
        import asyncio

        import pytest

        @pytest.fixture
        def closes_the_loop():
            asyncio.get_event_loop().close()
            return asyncio.run(asyncio.sleep(0, "done"))

        @pytest.mark.parametrize("n", [0, 1])
        async def test_still_runs(closes_the_loop, n):
            assert closes_the_loop == "done"
            assert not asyncio.get_running_loop().is_closed()
        """
    )
    run("-W", "error").assert_outcomes(passed=2)


def test_package_loop_of_the_rootdir_package_matches_its_fixtures(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A package fixture of the rootdir's own package and a test pinned to "package" share a loop.

    pytest ties package-scoped fixtures defined in the rootdir package's conftest to the
    session, so the package loop there is the session's.
    """
    pytester.makepyfile(
        __init__="",
        conftest="""
        import asyncio
        import awaitest

        @awaitest.fixture(scope="package", loop_scope="package")
        async def package_loop():
            return asyncio.get_running_loop()
        """,
        test_pinned="""
        import asyncio
        import pytest

        pytestmark = pytest.mark.awaitest(loop_scope="package")

        async def test_same_loop(package_loop):
            assert asyncio.get_running_loop() is package_loop
        """,
    )
    run().assert_outcomes(passed=1)
