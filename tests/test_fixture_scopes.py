"""Async fixtures at every scope: setup, sharing, teardown order, errors.

Inner tests record what happened (setups, uses, teardowns, loop states) in
a log file through a small `rec` helper module; the outer test reads the log
back and checks counts and order.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inner import REC, read_log

Run = Callable[..., pytest.RunResult]


def words(pytester: pytest.Pytester, first: str) -> list[list[str]]:
    """Return the words of the log lines that start with `first`."""
    return [line.split()[1:] for line in read_log(pytester) if line.split()[0] == first]


# -- every scope ----------------------------------------------------------------------------

FIXTURE_BY_KIND = {
    "coroutine": """
        @pytest.fixture(scope="{scope}")
        async def thing():
            await asyncio.sleep(0)
            n = rec.count("thing")
            rec.note("setup", n)
            return n
        """,
    "asyncgen": """
        @pytest.fixture(scope="{scope}")
        async def thing():
            await asyncio.sleep(0)
            n = rec.count("thing")
            rec.note("setup", n)
            yield n
            await asyncio.sleep(0)
            rec.note("teardown", n)
        """,
}


@pytest.mark.parametrize("kind", ["coroutine", "asyncgen"])
@pytest.mark.parametrize(
    ("scope", "setups"),
    [("function", 4), ("class", 3), ("module", 2), ("package", 1), ("session", 1)],
)
def test_async_fixture_is_set_up_once_per_scope(
    pytester: pytest.Pytester, run: Run, kind: str, scope: str, setups: int
) -> None:
    """Coroutine and async-generator fixtures are set up once per scope instance and shared."""
    pytester.makepyfile(rec=REC)
    pkg = pytester.mkpydir("pkg")
    fixture = FIXTURE_BY_KIND[kind].format(scope=scope)
    (pkg / "conftest.py").write_text(
        f"import asyncio\nimport pytest\nimport rec\n{_dedent(fixture)}"
    )
    (pkg / "test_a.py").write_text(
        _dedent(
            """
            import rec

            class TestC:
                async def test_1(self, thing):
                    rec.note("use", thing)

                async def test_2(self, thing):
                    rec.note("use", thing)

            async def test_3(thing):
                rec.note("use", thing)
            """
        )
    )
    (pkg / "test_b.py").write_text(
        _dedent(
            """
            import rec

            async def test_4(thing):
                rec.note("use", thing)
            """
        )
    )
    result = run()
    result.assert_outcomes(passed=4)
    log = read_log(pytester)
    assert [line for line in log if line.startswith("setup")] == [
        f"setup {n}" for n in range(1, setups + 1)
    ]
    used = [line.split()[1] for line in log if line.startswith("use")]
    expected_use = {
        "function": ["1", "2", "3", "4"],
        "class": ["1", "1", "2", "3"],
        "module": ["1", "1", "1", "2"],
        "package": ["1", "1", "1", "1"],
        "session": ["1", "1", "1", "1"],
    }
    assert used == expected_use[scope]
    if kind == "asyncgen":
        teardowns = [line for line in log if line.startswith("teardown")]
        assert teardowns == [f"teardown {n}" for n in range(1, setups + 1)]
        for n in range(1, setups + 1):  # each instance is torn down after its last use
            last_use = max(i for i, line in enumerate(log) if line == f"use {n}")
            assert log.index(f"teardown {n}") > last_use


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).lstrip("\n")


PACKAGE_CONFTEST = """
import asyncio
import pytest
import rec

@pytest.fixture(scope="package")
async def pkg_thing(request):
    name = request.node.nodeid
    rec.note("setup", name, rec.loop_id())
    yield name
    rec.note("teardown", name, asyncio.get_running_loop().is_closed())
"""

PACKAGE_TEST = """
import rec

async def test_it(pkg_thing):
    rec.note("use", pkg_thing, rec.loop_id())
"""


def test_package_scope_is_per_package(pytester: pytest.Pytester, run: Run) -> None:
    """Two packages get two package-fixture instances on two loops; one package shares one."""
    pytester.makepyfile(rec=REC)
    for name in ("pkg1", "pkg2"):
        pkg = pytester.mkpydir(name)
        (pkg / "conftest.py").write_text(PACKAGE_CONFTEST)
        (pkg / "test_a.py").write_text(PACKAGE_TEST)
        (pkg / "test_b.py").write_text(PACKAGE_TEST)
    result = run()
    result.assert_outcomes(passed=4)
    log = read_log(pytester)
    setups = words(pytester, "setup")
    uses = words(pytester, "use")
    assert [s[0] for s in setups] == ["pkg1", "pkg2"]
    assert setups[0][1] != setups[1][1], "the two packages share a loop"
    assert uses == [
        ["pkg1", setups[0][1]],
        ["pkg1", setups[0][1]],
        ["pkg2", setups[1][1]],
        ["pkg2", setups[1][1]],
    ]
    assert words(pytester, "teardown") == [["pkg1", "False"], ["pkg2", "False"]]
    assert log.index("teardown pkg1 False") < log.index(f"setup pkg2 {setups[1][1]}")


# -- teardown -------------------------------------------------------------------------------

TEARDOWN_CONFTEST = """
import asyncio
import pytest
import rec

LOOPS = {}


async def lifetime(name):
    loop = asyncio.get_running_loop()
    LOOPS[name] = loop
    rec.note("setup", name)
    yield name
    await asyncio.sleep(0)
    rec.note("teardown", name, "closed" if loop.is_closed() else "open")


@pytest.fixture(scope="session")
async def s():
    async for value in lifetime("s"):
        yield value


@pytest.fixture(scope="module")
async def m(s):
    async for value in lifetime("m"):
        yield value


@pytest.fixture(scope="class")
async def c(m):
    async for value in lifetime("c"):
        yield value


@pytest.fixture
async def f(c):
    async for value in lifetime("f"):
        yield value


def pytest_sessionfinish():
    closed = sorted(name for name, loop in LOOPS.items() if loop.is_closed())
    rec.note("finish", *closed)
"""


def test_teardown_runs_in_reverse_order_before_loops_close(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Fixtures tear down in reverse setup order, each before its loop closes; all loops close."""
    pytester.makepyfile(rec=REC)
    pytester.makeconftest(TEARDOWN_CONFTEST)
    pytester.makepyfile(
        test_order="""
        class TestOrder:
            async def test_it(self, f):
                pass
        """
    )
    result = run()
    result.assert_outcomes(passed=1)
    assert read_log(pytester) == [
        "setup s",
        "setup m",
        "setup c",
        "setup f",
        "teardown f open",
        "teardown c open",
        "teardown m open",
        "teardown s open",
        "finish c f m s",
    ]


@pytest.mark.parametrize("kind", ["fails", "errors-in-setup"])
def test_teardown_runs_when_the_test_or_a_later_setup_fails(
    pytester: pytest.Pytester, run: Run, kind: str
) -> None:
    """Fixtures already set up are torn down even if the test fails or a later fixture fails."""
    pytester.makepyfile(rec=REC)
    pytester.makeconftest(TEARDOWN_CONFTEST)
    pytester.makepyfile(
        test_fail="""
        import pytest
        import rec

        @pytest.fixture
        async def broken(f):
            raise RuntimeError("broken setup")

        async def test_fails(f):
            raise AssertionError("test failed")

        async def test_errors(broken):
            pass
        """
    )
    result = run("-k", "test_fails" if kind == "fails" else "test_errors")
    if kind == "fails":
        result.assert_outcomes(failed=1)
    else:
        result.assert_outcomes(errors=1)
    teardowns = [line for line in read_log(pytester) if line.startswith("teardown")]
    assert teardowns == ["teardown f open", "teardown c open", "teardown m open", "teardown s open"]


# -- sync and async together ----------------------------------------------------------------


def test_sync_test_gets_async_fixture_values(pytester: pytest.Pytester, run: Run) -> None:
    """A sync test requesting coroutine and async-generator fixtures gets their values."""
    pytester.makepyfile(
        test_sync="""
        import asyncio
        import pytest

        @pytest.fixture
        async def coro_value():
            await asyncio.sleep(0)
            return "from coroutine"

        @pytest.fixture(scope="module")
        async def gen_value():
            await asyncio.sleep(0)
            yield "from generator"

        def test_sync(coro_value, gen_value):
            assert (coro_value, gen_value) == ("from coroutine", "from generator")

        class TestSync:
            def test_method(self, coro_value, gen_value):
                assert (coro_value, gen_value) == ("from coroutine", "from generator")
        """
    )
    result = run()
    result.assert_outcomes(passed=2)


def test_sync_and_async_fixtures_depend_on_each_other(pytester: pytest.Pytester, run: Run) -> None:
    """Sync fixtures can use async ones and async fixtures can use sync ones, in any chain."""
    pytester.makepyfile(
        test_chain="""
        import asyncio
        import pytest

        @pytest.fixture
        def base():
            return ["base"]

        @pytest.fixture
        async def async_mid(base):
            await asyncio.sleep(0)
            return [*base, "async_mid"]

        @pytest.fixture
        def sync_mid(async_mid):
            return [*async_mid, "sync_mid"]

        @pytest.fixture
        async def async_top(sync_mid):
            await asyncio.sleep(0)
            yield [*sync_mid, "async_top"]

        async def test_async(async_top):
            assert async_top == ["base", "async_mid", "sync_mid", "async_top"]

        def test_sync(async_top):
            assert async_top == ["base", "async_mid", "sync_mid", "async_top"]
        """
    )
    result = run()
    result.assert_outcomes(passed=2)


def test_parametrized_async_fixture(pytester: pytest.Pytester, run: Run) -> None:
    """An async fixture with params runs once per param, its ids shown in test ids."""
    pytester.makepyfile(
        test_params="""
        import asyncio
        import pytest

        @pytest.fixture(params=[1, 2], ids=["one", "two"])
        async def number(request):
            await asyncio.sleep(0)
            return request.param * 10

        @pytest.fixture(scope="module", params=["a", "b"])
        async def letter(request):
            await asyncio.sleep(0)
            yield request.param.upper()

        async def test_number(number):
            assert number in (10, 20)
            assert number != 20, "second param reached"

        def test_letter(letter):
            assert letter in ("A", "B")
        """
    )
    result = run("-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines_random(
        [
            "*test_number[[]one[]] PASSED*",
            "*test_number[[]two[]] FAILED*",
            "*test_letter[[]a[]] PASSED*",
            "*test_letter[[]b[]] PASSED*",
        ]
    )


def test_async_fixture_method_on_a_test_class(pytester: pytest.Pytester, run: Run) -> None:
    """An async fixture defined as a test-class method is bound to the test instance."""
    pytester.makepyfile(
        test_method_fixture="""
        import asyncio
        import pytest

        class TestWithFixture:
            marker = "class attribute"

            @pytest.fixture
            async def value(self):
                await asyncio.sleep(0)
                return self.marker

            async def test_value(self, value):
                assert value == "class attribute"
        """
    )
    result = run()
    result.assert_outcomes(passed=1)


# -- awaitest.fixture -----------------------------------------------------------------------


def test_awaitest_fixture_bare_called_and_with_options(pytester: pytest.Pytester, run: Run) -> None:
    """awaitest.fixture works bare and called, with name=, autouse=, params=, ids= (strict mode)."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_deco="""
        import asyncio
        import awaitest
        import pytest
        import rec

        pytestmark = pytest.mark.awaitest

        @awaitest.fixture
        async def bare():
            await asyncio.sleep(0)
            return "bare"

        @awaitest.fixture()
        async def called():
            await asyncio.sleep(0)
            yield "called"

        @awaitest.fixture(name="renamed")
        async def _hidden_name():
            return "renamed"

        @awaitest.fixture(autouse=True)
        async def auto():
            await asyncio.sleep(0)
            rec.note("autouse")

        @awaitest.fixture(params=[1, 2], ids=["p1", "p2"], scope="module")
        async def param(request):
            await asyncio.sleep(0)
            return request.param

        async def test_all(bare, called, renamed, param):
            rec.note("test", bare, called, renamed, param)
        """
    )
    result = run("--awaitest-mode=strict", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_all[[]p1[]] PASSED*", "*test_all[[]p2[]] PASSED*"])
    assert read_log(pytester) == [
        "autouse",
        "test bare called renamed 1",
        "autouse",
        "test bare called renamed 2",
    ]


def test_awaitest_fixture_decorates_sync_fixtures_too(pytester: pytest.Pytester, run: Run) -> None:
    """awaitest.fixture on a sync function makes an ordinary pytest fixture."""
    pytester.makepyfile(
        test_sync_deco="""
        import awaitest

        @awaitest.fixture(scope="module")
        def sync_value():
            yield "sync"

        def test_it(sync_value):
            assert sync_value == "sync"
        """
    )
    result = run()
    result.assert_outcomes(passed=1)


# -- errors ---------------------------------------------------------------------------------


def test_fixture_setup_error_is_reported_at_setup(pytester: pytest.Pytester, run: Run) -> None:
    """An async fixture raising in setup errors the test at setup, showing the fixture's code."""
    pytester.makepyfile(
        test_setup_error="""
        import asyncio
        import pytest

        @pytest.fixture
        async def broken_setup():
            await asyncio.sleep(0)
            raise RuntimeError("boom in setup")

        async def test_it(broken_setup):
            raise AssertionError("the test ran")
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_it*",
            "*async def broken_setup():*",
            '>*raise RuntimeError("boom in setup")',
            "E*RuntimeError: boom in setup",
        ]
    )
    result.stdout.no_fnmatch_line("*the test ran*")


def test_fixture_teardown_error_is_reported_at_teardown(
    pytester: pytest.Pytester, run: Run
) -> None:
    """An async-generator fixture raising after yield errors the test at teardown."""
    pytester.makepyfile(
        test_teardown_error="""
        import asyncio
        import pytest

        @pytest.fixture
        async def broken_teardown():
            yield 1
            await asyncio.sleep(0)
            raise RuntimeError("boom in teardown")

        async def test_it(broken_teardown):
            pass
        """
    )
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_it*",
            "*async def broken_teardown():*",
            "E*RuntimeError: boom in teardown",
        ]
    )


def test_fixture_that_does_not_yield(pytester: pytest.Pytester, run: Run) -> None:
    """An async-generator fixture that never yields errors the test at setup, saying so."""
    pytester.makepyfile(
        test_no_yield="""
        import pytest

        @pytest.fixture
        async def empty():
            if False:
                yield

        async def test_it(empty):
            raise AssertionError("the test ran")
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_it*",
            "fixture 'empty' did not yield a value; an async generator fixture must yield once.",
        ]
    )
    result.stdout.no_fnmatch_line("*the test ran*")


def test_fixture_that_yields_twice(pytester: pytest.Pytester, run: Run) -> None:
    """An async-generator fixture yielding twice errors the test at teardown, after cleanup."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_twice="""
        import pytest
        import rec

        @pytest.fixture
        async def twice():
            try:
                yield 1
                yield 2
            finally:
                rec.note("finally ran")

        async def test_it(twice):
            assert twice == 1
        """
    )
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_it*",
            "fixture 'twice' yielded more than once; an async generator "
            "fixture must yield exactly once.",
        ]
    )
    assert read_log(pytester) == ["finally ran"]


def test_yield_errors_do_not_show_awaitest_internals(pytester: pytest.Pytester, run: Run) -> None:
    """The did-not-yield and yielded-twice errors show no awaitest or asyncio internals."""
    pytester.makepyfile(
        test_clean="""
        import pytest

        @pytest.fixture
        async def empty():
            if False:
                yield

        @pytest.fixture
        async def twice():
            yield 1
            yield 2

        async def test_empty(empty):
            pass

        async def test_twice(twice):
            pass
        """
    )
    result = run()
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.no_fnmatch_line("*awaitest/_runner.py*")
    result.stdout.no_fnmatch_line("*run_until_complete*")
