"""The benchmark suites: synthetic test files, written once per contender's style.

A suite is a function registered with `@suite(name)` that returns its cases for a size scale;
a case says how many tests it has, what it compares (chart panel, target) and, for each
contender, the files and pytest arguments of its run (`Plan`), or None where the case does
not apply to that contender; a contender may also have several runs in a case (one row each,
as awaitest sequential and concurrent). Adding a suite is one more decorated function here;
issue 8's concurrency suites are in `suites_concurrent`, registered at the end of this module.
Nothing here runs or times anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Literal

from bench.contenders import Contender

#: Chart panel of a case: overhead ratios vs sync, absolute seconds, peak memory, or concurrent
#: runs' ratios vs sequential ones.
Kind = Literal["overhead", "seconds", "memory", "concurrency"]

TESTS_PER_MODULE = 100

#: How long each test of the virtual-time suite sleeps, and what real sleeps are scaled to.
VIRTUAL_SLEEP = 1.0
SCALED_SLEEP = 0.01


@dataclasses.dataclass(frozen=True)
class Plan:
    """One contender's run of a case.

    Attributes:
        files: Relative path -> text of every file of the generated suite.
        args: Extra pytest arguments.
        collect_only: The run only collects; `expected` counts collected tests.
        expected: Tests that must pass (or be collected) for the run to count.
        note: What differs in this run, shown in the table.
        extrapolate: Seconds added to the measured time (sleeps scaled down for speed).
        unsupported_if_fails: A failing run means the feature is missing ("n/a").
        row: The row's name where a contender has several runs in a case (default: the
            contender's name).
    """

    files: dict[str, str]
    args: tuple[str, ...] = ()
    collect_only: bool = False
    expected: int = 0
    note: str = ""
    extrapolate: float = 0.0
    unsupported_if_fails: bool = False
    row: str = ""


@dataclasses.dataclass(frozen=True)
class Case:
    """One measured comparison: a generated suite, run under every contender it applies to.

    Attributes:
        name: Short id, e.g. "trivial" or "memory-10000".
        title: What a reader sees in the table.
        tests: How many tests the suite has.
        kind: Chart panel.
        plan: The run of one contender (or its runs, one row each), or None where the case
            does not apply.
        target: The subject's target ratio vs the baseline (median wall times), if any.
        baseline: The row every ratio of the case is against.
        subject: The row held to the target.
        peer: The row compared with the subject ("peer / subject", > 1: the subject is faster).
        peer_target: The least "peer / subject" ratio the subject aims for, if any.
    """

    name: str
    title: str
    tests: int
    kind: Kind
    plan: Callable[[Contender], Plan | tuple[Plan, ...] | None]
    target: float | None = None
    baseline: str = "sync"
    subject: str = "awaitest"
    peer: str = "pytest-asyncio"
    peer_target: float | None = None

    def plans(self, contender: Contender) -> tuple[Plan, ...]:
        """Return the runs of `contender` in this case (none where it does not apply)."""
        plans = self.plan(contender)
        if plans is None:
            return ()
        return plans if isinstance(plans, tuple) else (plans,)


SuiteFn = Callable[[int], list[Case]]
SUITES: dict[str, SuiteFn] = {}


def suite(name: str) -> Callable[[SuiteFn], SuiteFn]:
    """Register a suite: a function of the size divisor (1, or 100 for --quick) to its cases.

    Args:
        name: The name `--suites` selects it by.

    Returns:
        A decorator registering the function unchanged.
    """

    def register(fn: SuiteFn) -> SuiteFn:
        SUITES[name] = fn
        return fn

    return register


def scaled(n: int, divisor: int) -> int:
    """Return a suite size divided for --quick, keeping at least two tests."""
    return max(2, n // divisor)


def target(ratio: float, divisor: int) -> float | None:
    """Return awaitest's target ratio, which only full-size suites are held to."""
    return ratio if divisor == 1 else None


# -- generating files ---------------------------------------------------------------------

_INI = {
    "awaitest": "[pytest]\n",
    "pytest-asyncio": (
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    ),
    "anyio": "[pytest]\n",
    "sync": "[pytest]\n",
    "cooperative": "[pytest]\n",
}

_ANYIO_BACKEND = """
@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"
"""


def generate(
    n: int,
    flavour: str,
    test: str,
    *,
    header: str = "",
    conftest: str = "",
) -> dict[str, str]:
    """Write `n` tests in modules of TESTS_PER_MODULE, with the flavour's ini and conftest.

    Args:
        n: Number of tests.
        flavour: How the contender spells async tests ("awaitest", "pytest-asyncio", ...).
        test: Source of one test; `{i}` is replaced by its number.
        header: Source at the top of every module (imports, helpers, `pytestmark`).
        conftest: Source of conftest.py (the anyio flavour adds its `anyio_backend`).

    Returns:
        Relative path -> file text.
    """
    if flavour == "anyio":
        header = "import pytest\n\npytestmark = pytest.mark.anyio\n\n" + header
        conftest = "import pytest\n" + _ANYIO_BACKEND + "\n" + conftest
    files = {"pytest.ini": _INI[flavour], "conftest.py": conftest}
    for module, start in enumerate(range(0, n, TESTS_PER_MODULE)):
        stop = min(n, start + TESTS_PER_MODULE)
        body = "\n\n".join(test.format(i=i) for i in range(start, stop))
        files[f"test_m{module:03d}.py"] = header + "\n\n" + body
    return files


def _is_async(contender: Contender) -> bool:
    return contender.flavour != "sync"


_ANSWER = {
    True: "async def answer():\n    return 42\n",
    False: "def answer():\n    return 42\n",
}
_TRIVIAL = {
    True: "async def test_{i}():\n    assert await answer() == 42\n",
    False: "def test_{i}():\n    assert answer() == 42\n",
}


def _trivial(n: int, contender: Contender) -> dict[str, str]:
    asynchronous = _is_async(contender)
    return generate(n, contender.flavour, _TRIVIAL[asynchronous], header=_ANSWER[asynchronous])


def _plain(make: Callable[[Contender], Plan]) -> Callable[[Contender], Plan | None]:
    """Return `make` for every contender but the special ones (looptime, cooperative)."""

    def plan(contender: Contender) -> Plan | None:
        return None if contender.special else make(contender)

    return plan


# -- the suites -----------------------------------------------------------------------------


@suite("trivial")
def trivial(divisor: int) -> list[Case]:
    n = scaled(2000, divisor)
    plan = _plain(lambda contender: Plan(_trivial(n, contender), expected=n))
    title = f"{n:,} trivial async tests"
    return [Case("trivial", title, n, "overhead", plan, target(1.05, divisor))]


def _fixture_suite(contender: Contender, scope: str, n: int) -> Plan:
    flavour = contender.flavour
    header = ""
    decorator = f'@pytest.fixture(scope="{scope}")'
    if flavour == "pytest-asyncio" and scope == "session":
        # pytest-asyncio's spelling of "one loop for the fixture and its tests", which is
        # what awaitest does for a wide async fixture without being told.
        decorator = '@pytest_asyncio.fixture(scope="session", loop_scope="session")'
        header = 'import pytest\n\npytestmark = pytest.mark.asyncio(loop_scope="session")\n'
    imports = "import pytest\n" + ("import pytest_asyncio\n" if "_asyncio." in decorator else "")
    prefix = "async " if _is_async(contender) else ""
    conftest = f"{imports}\n\n{decorator}\n{prefix}def resource():\n    yield {{'value': 42}}\n"
    test = f"{prefix}def test_{{i}}(resource):\n    assert resource['value'] == 42\n"
    files = generate(n, flavour, test, header=header, conftest=conftest)
    return Plan(files, expected=n)


@suite("function-fixture")
def function_fixture(divisor: int) -> list[Case]:
    n = scaled(2000, divisor)
    plan = _plain(lambda contender: _fixture_suite(contender, "function", n))
    title = f"{n:,} tests, function-scoped async fixture"
    return [Case("function-fixture", title, n, "overhead", plan, target(1.15, divisor))]


@suite("session-fixture")
def session_fixture(divisor: int) -> list[Case]:
    n = scaled(2000, divisor)
    plan = _plain(lambda contender: _fixture_suite(contender, "session", n))
    title = f"{n:,} tests, session-scoped async fixture"
    return [Case("session-fixture", title, n, "overhead", plan, target(1.10, divisor))]


@suite("sync-installed")
def sync_installed(divisor: int) -> list[Case]:
    n = scaled(2000, divisor)

    def make(contender: Contender) -> Plan:
        files = generate(n, contender.flavour, _TRIVIAL[False], header=_ANSWER[False])
        return Plan(files, expected=n, note="" if contender.flavour == "sync" else "sync tests")

    title = f"{n:,} sync tests, plugin installed vs not"
    return [Case("sync-installed", title, n, "overhead", _plain(make), target(1.02, divisor))]


@suite("collection")
def collection(divisor: int) -> list[Case]:
    n = scaled(10000, divisor)

    def make(contender: Contender) -> Plan:
        return Plan(_trivial(n, contender), ("--collect-only",), collect_only=True, expected=n)

    title = f"collecting {n:,} async tests"
    return [Case("collection", title, n, "overhead", _plain(make), target(1.05, divisor))]


@suite("virtual-time")
def virtual_time(divisor: int) -> list[Case]:
    n = scaled(200, divisor)
    added = n * (VIRTUAL_SLEEP - SCALED_SLEEP)

    def plan(contender: Contender) -> Plan | None:
        flavour = contender.flavour
        asynchronous = _is_async(contender)
        header = "import asyncio\nimport time\n\nimport pytest\n"
        sleep = "await asyncio.sleep" if asynchronous else "time.sleep"
        prefix = "async " if asynchronous else ""
        virtual = f"{prefix}def test_{{i}}():\n    {sleep}({VIRTUAL_SLEEP})\n"
        if contender.special == "looptime":
            files = generate(n, flavour, virtual, header=header)
            return Plan(files, ("--looptime",), expected=n, note="looptime's fake clock")
        if contender.special:
            return None
        if flavour == "awaitest":
            header += "\npytestmark = pytest.mark.awaitest(virtual_time=True)\n"
            files = generate(n, flavour, virtual, header=header)
            return Plan(files, expected=n, note="virtual_time=True", unsupported_if_fails=True)
        real = f"{prefix}def test_{{i}}():\n    {sleep}({SCALED_SLEEP})\n"
        files = generate(n, flavour, real, header=header)
        note = f"real {SCALED_SLEEP:g} s sleeps, +{added:g} s added"
        return Plan(files, expected=n, note=note, extrapolate=added)

    title = f"{n:,} tests sleeping {VIRTUAL_SLEEP:g} s"
    return [Case("virtual-time", title, n, "seconds", plan)]


@suite("memory")
def memory(divisor: int) -> list[Case]:
    cases = []
    for size in (1000, 10000):
        n = scaled(size, divisor)

        def make(contender: Contender, n: int = n) -> Plan:
            return Plan(_trivial(n, contender), expected=n)

        title = f"peak memory, {n:,} async tests"
        cases.append(Case(f"memory-{size}", title, n, "memory", _plain(make)))
    return cases


# Issue 8's suites live in their own module; importing it registers them after the ones above.
from bench import suites_concurrent  # noqa: E402, F401
