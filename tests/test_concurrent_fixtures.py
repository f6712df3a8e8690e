"""Concurrent tests' fixtures: each test's own, and wider ones shared.

Tests overlap (they pass a `Meeting`, see inner.py) and still get
pytest's real fixtures: their own function-scoped values (sync and async,
plain and generator, parametrized), `request`, `tmp_path`, class instance
and context; module and session fixtures are set up once and torn down
once, after every test that uses them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inner import CONCURRENT, MEET, REC, read_log, suite, write_suite

Run = Callable[..., pytest.RunResult]


# -- each test's own fixtures ------------------------------------------------------------


def test_function_fixtures_are_each_tests_own(pytester: pytest.Pytester, run: Run) -> None:
    """Sync and async, plain and generator, parametrized fixtures, request, tmp_path: own."""
    body = """
@pytest.fixture
def plain(request):
    return request.node.name


@pytest.fixture
def gen(request):
    note("gen up", request.node.name)
    yield request.node.name
    note("gen down", request.node.name)


@pytest.fixture
async def aplain(request):
    await asyncio.sleep(0)
    return request.node.name


@pytest.fixture
async def agen(request):
    note("agen up", request.node.name)
    await asyncio.sleep(0)
    yield request.node.name
    await asyncio.sleep(0)
    note("agen down", request.node.name)


@pytest.fixture(params=["x", "y"])
async def letter(request):
    await asyncio.sleep(0)
    return request.param


@pytest.mark.parametrize("n", [1, 2])
async def test_own(n, letter, plain, gen, aplain, agen, request, tmp_path):
    name = request.node.name
    assert name == f"test_own[{letter}-{n}]"
    (tmp_path / "mine").write_text(name)
    await meeting()
    assert plain == gen == aplain == agen == request.node.name == name
    assert request.node.callspec.params == {"n": n, "letter": letter}
    assert (tmp_path / "mine").read_text() == name
    note("end", name, tmp_path.name)
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(4)\n", body)
    result = run()
    result.assert_outcomes(passed=4)
    log = read_log(pytester)
    names = [f"test_own[{letter}-{n}]" for letter in "xy" for n in (1, 2)]
    for name in names:
        for line in ("gen up", "gen down", "agen up", "agen down"):
            assert log.count(f"{line} {name}") == 1, (line, name, log)
        # Each test's teardown runs after its own body ended, however they interleave.
        assert log.index(f"gen down {name}") > log.index(f"agen down {name}")
    ends = [line.split() for line in log if line.startswith("end ")]
    assert sorted(name for _end, name, _tmp in ends) == sorted(names)
    assert len({tmp for _end, _name, tmp in ends}) == 4


def test_each_test_has_its_own_class_instance(pytester: pytest.Pytester, run: Run) -> None:
    """Tests of a class get one instance each: attributes set in a fixture stay theirs."""
    body = """
@pytest.mark.awaitest(concurrent=True)
class TestInstances:
    @pytest.fixture(autouse=True)
    async def own(self, request):
        self.name = request.node.name
        await asyncio.sleep(0)
        yield
        note("teardown", self.name, request.node.name, id(self))

    async def test_x(self, request):
        assert request.instance is self
        await meeting()
        assert self.name == "test_x"

    async def test_y(self, request):
        assert request.instance is self
        await meeting()
        assert self.name == "test_y"

    async def test_z(self, request):
        assert request.instance is self
        await meeting()
        assert self.name == "test_z"
"""
    write_suite(pytester, "meeting = Meeting(3)\n", body)
    result = run()
    result.assert_outcomes(passed=3)
    teardowns = [line.split() for line in read_log(pytester)]
    assert sorted((mine, node) for _t, mine, node, _id in teardowns) == [
        ("test_x", "test_x"),
        ("test_y", "test_y"),
        ("test_z", "test_z"),
    ]
    assert len({instance for *_rest, instance in teardowns}) == 3


WIDE_CONFTEST = """
import asyncio

import pytest

from rec import note


@pytest.fixture(scope="session")
async def sess():
    note("sess up")
    await asyncio.sleep(0.05)  # the other tests ask for it meanwhile
    yield asyncio.get_running_loop()
    await asyncio.sleep(0)
    note("sess down")


@pytest.fixture(scope="module")
async def mod(sess, request):
    name = request.module.__name__
    note("mod up", name)
    await asyncio.sleep(0.05)
    yield name
    await asyncio.sleep(0)
    note("mod down", name)


@pytest.fixture(scope="module")
def sync_mod(request):
    note("sync_mod up", request.module.__name__)
    yield
    note("sync_mod down", request.module.__name__)
"""

WIDE_TESTS = suite(
    CONCURRENT + "meeting = Meeting(3)\n",
    """
async def test_a(mod, sync_mod, sess):
    await meeting()
    assert mod == __name__
    note("end a", __name__)


async def test_b(sess, sync_mod, mod):
    await meeting()
    assert mod == __name__
    note("end b", __name__)


async def test_c(mod):
    await meeting()
    note("end c", __name__)
""",
)


def test_wider_fixtures_are_set_up_once_and_torn_down_after_every_test(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Module and session fixtures two tests need at once: set up once, shared, torn down once.

    The session fixture serves two modules; each module's fixtures tear down after its
    own tests, the session's after everything. (Two independent module fixtures may
    finish their setups in either order while tests overlap; each is torn down in the
    reverse order of its setup's end, as pytest does.)
    """
    pytester.makepyfile(rec=REC, meet=MEET, conftest=WIDE_CONFTEST)
    pytester.makepyfile(test_one=WIDE_TESTS, test_two=WIDE_TESTS)
    result = run()
    result.assert_outcomes(passed=6)
    log = read_log(pytester)
    assert log[0] == "sess up"
    assert log[-1] == "sess down"
    middle = log[1:-1]
    assert len(middle) == 14
    for part, module in ((middle[:7], "test_one"), (middle[7:], "test_two")):
        assert sorted(part[:2]) == [f"mod up {module}", f"sync_mod up {module}"]
        assert sorted(part[2:5]) == [f"end {test} {module}" for test in "abc"]
        assert sorted(part[5:]) == [f"mod down {module}", f"sync_mod down {module}"]


def test_each_test_has_its_own_context(pytester: pytest.Pytester, run: Run) -> None:
    """Context variables a test or its fixture sets are seen by that test only."""
    body = """
import contextvars

var = contextvars.ContextVar("var", default="unset")


@pytest.fixture
async def from_fixture(request):
    var.set("fixture of " + request.node.name)
    yield
    assert var.get() == "fixture of " + request.node.name


async def test_a(from_fixture):
    assert var.get() == "fixture of test_a"
    var.set("a")
    await meeting()
    assert var.get() == "a"


async def test_b(from_fixture):
    assert var.get() == "fixture of test_b"
    await meeting()
    assert var.get() == "fixture of test_b"


async def test_c():
    var.set("c")
    await meeting()
    assert var.get() == "c"


async def test_d():
    await meeting()
    assert var.get() == "unset"
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(4)\n", body)
    result = run()
    result.assert_outcomes(passed=4)


def test_wider_fixture_parameters_never_overlap(pytester: pytest.Pytester, run: Run) -> None:
    """Each parameter of a module fixture has its own group; one is torn down before the next.

    pytest sets up one parameter at a time: the tests of "x" overlap each other
    (they meet), then "x" is torn down, then the tests of "y" overlap.
    """
    body = """
@pytest.fixture(scope="module", params=["x", "y"])
async def db(request):
    note("db up", request.param)
    await asyncio.sleep(0.01)
    yield request.param
    await asyncio.sleep(0)
    note("db down", request.param)


async def test_one(db):
    await meetings[db]()
    note("end one", db)


async def test_two(db):
    await meetings[db]()
    note("end two", db)
"""
    write_suite(pytester, CONCURRENT + 'meetings = {"x": Meeting(2), "y": Meeting(2)}\n', body)
    result = run("-v")
    result.assert_outcomes(passed=4)
    log = read_log(pytester)
    assert log[0] == "db up x"
    assert sorted(log[1:3]) == ["end one x", "end two x"]
    assert log[3:5] == ["db down x", "db up y"]
    assert sorted(log[5:7]) == ["end one y", "end two y"]
    assert log[7:] == ["db down y"]


def test_request_getfixturevalue_works_in_a_concurrent_test(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A test asking for a sync fixture by name, before and after it awaits, gets its own.

    As in a sequential run (parametrizing over fixture names is a common use).
    """
    body = """
@pytest.fixture
def named(request):
    yield request.node.name
    note("named down", request.node.name)


@pytest.mark.parametrize("n", [1, 2])
async def test_by_name(request, n):
    assert request.getfixturevalue("named") == request.node.name
    await meeting()
    assert request.getfixturevalue("tmp_path").name.startswith("test_by_name")
    assert request.getfixturevalue("named") == request.node.name
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(2)\n", body)
    result = run()
    result.assert_outcomes(passed=2)
    assert sorted(read_log(pytester)) == [f"named down test_by_name[{n}]" for n in (1, 2)]


def test_request_getfixturevalue_of_an_async_fixture_says_why_it_cannot_run(
    pytester: pytest.Pytester, run: Run
) -> None:
    """An async fixture asked for by name inside async code: awaitest's message, as sequentially."""
    body = """
@pytest.fixture
async def lazy():
    await asyncio.sleep(0)
    return 1


async def test_asks():
    await meeting()
    await asyncio.sleep(0)


async def test_asks_by_name(request):
    await meeting()
    request.getfixturevalue("lazy")
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(2)\n", body)
    result = run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_asks_by_name _*",
            "setup of fixture 'lazy' cannot run: an event loop is already running in this thread. "
            "awaitest "
            "sets up async fixtures between awaits, not inside them: if request.getfixturevalue() "
            "was called from async code, request the fixture as an argument instead.",
        ]
    )


def test_request_addfinalizer_works_in_a_concurrent_test(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A finalizer a test adds from its body, before or after awaiting, runs at its teardown."""
    body = """
async def test_early(request):
    request.addfinalizer(lambda: note("finalized early"))
    await meeting()


async def test_late(request):
    await meeting()
    request.addfinalizer(lambda: note("finalized late"))
"""
    write_suite(pytester, CONCURRENT + "meeting = Meeting(2)\n", body)
    result = run()
    result.assert_outcomes(passed=2)
    assert sorted(read_log(pytester)) == ["finalized early", "finalized late"]
