"""awaitest beside the plugins projects pair it with: coverage, timeouts, Hypothesis, random order.

pytest-cov records the lines async tests and fixtures run (after awaits, in tasks, in
callbacks); with pytest-timeout installed, a hung async teardown is cancelled and the run goes
on; Hypothesis runs every example of an async test on one loop and reports a failing one; and
pytest-randomly's shuffled orders give every test the outcome it has in file order. The
plugins are installed from the package index into a temporary directory put on PYTHONPATH for
the inner runs (as test_pytest_aiohttp.py does), so the project's environment stays without.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from inner import HANGING_TEARDOWN, LOG_HELPER, events, pip_install

Run = Callable[..., pytest.RunResult]

LIMIT = 60


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding pytest-cov (and coverage), pytest-randomly and pytest-timeout."""
    return pip_install(
        tmp_path_factory.mktemp("site"),
        "--no-deps", "pytest-cov>=5", "coverage>=7.5", "pytest-randomly>=3.15",
        "pytest-timeout>=2.3",
    )  # fmt: skip


@pytest.fixture
def with_plugins(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner subprocess runs see the plugins (pytest-randomly only where asked for)."""
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.delenv("PYTEST_TIMEOUT", raising=False)
    monkeypatch.delenv("COV_CORE_SOURCE", raising=False)
    monkeypatch.setenv("COLUMNS", "300")


APP = """
import asyncio


def compute(x):
    return x * 2


async def fetch(x):
    await asyncio.sleep(0)
    return compute(x)


def on_done(results):
    results.append("callback")


async def in_a_task(results):
    await asyncio.sleep(0)
    results.append("task")


def close(resource):
    resource["open"] = False
"""

COVERED = """
import asyncio

import pytest

import app


@pytest.fixture(scope="session")
async def resource():
    resource = {"open": True}
    yield resource
    await asyncio.sleep(0)
    app.close(resource)


async def test_awaits(resource):
    assert await app.fetch(2) == 4


async def test_task_and_callback(resource):
    results = []
    await asyncio.create_task(app.in_a_task(results))
    asyncio.get_running_loop().call_soon(app.on_done, results)
    await asyncio.sleep(0)
    assert results == ["task", "callback"]
"""


@pytest.mark.usefixtures("with_plugins")
def test_coverage_records_lines_run_by_async_tests_and_fixtures(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """Every line of a module reached only from async code is covered."""
    pytester.makepyfile(app=APP, test_app=COVERED)
    result = run_subprocess(
        "-p", "no:randomly", "--cov=app", "--cov-report=term-missing", timeout=LIMIT
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["app.py * 0 * 100%*"])


@pytest.mark.usefixtures("with_plugins")
def test_hung_async_teardown_under_pytest_timeout_is_cancelled_and_the_run_goes_on(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """pytest-timeout's thread method would end the process; awaitest cancels the teardown."""
    pytester.makeini("[pytest]\ntimeout_method = thread\n")
    pytester.makepyfile(log=LOG_HELPER, test_hang=HANGING_TEARDOWN)
    result = run_subprocess("-p", "no:randomly", "--timeout=0.5", "-rA", timeout=LIMIT)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "plugins: *timeout-*",
            "test_hang.py::test_uses_it: the teardown of fixture 'hangs' timed out after 0.5 s "
            "(pytest-timeout's timeout); awaitest cancelled it while it was waiting at:",
        ],
        consecutive=False,
    )
    assert events(pytester) == ["hangs unwound", "test_next", "outer down"]


def test_hypothesis_runs_every_example_of_an_async_test_and_reports_a_failing_one(
    pytester: pytest.Pytester, run: Run
) -> None:
    """@given on an async test: the examples run on the test's loop; a failure is shrunk."""
    pytester.makepyfile(
        test_props="""
        import asyncio

        import pytest
        from hypothesis import given, settings, strategies as st

        LOOPS = set()


        @pytest.fixture(scope="module")
        async def offset():
            yield 10


        @settings(max_examples=25, database=None)
        @given(st.integers())
        async def test_adds(offset, n):
            LOOPS.add(asyncio.get_running_loop())
            await asyncio.sleep(0)
            assert n + offset - offset == n


        async def test_ran_on_one_loop():
            assert len(LOOPS) == 1


        @settings(max_examples=50, database=None)
        @given(st.integers(min_value=0))
        async def test_fails_for_large(offset, n):
            await asyncio.sleep(0)
            assert n < 100
        """
    )
    result = run("-rA")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*: test_fails_for_large(",  # Falsifying example, or Failing test case (6.150+)
            "*n=100,*",
        ],
        consecutive=False,
    )


RANDOM_ORDER_CONFTEST = """
import asyncio

import pytest


@pytest.fixture(scope="session")
async def registry():
    yield {}


@pytest.fixture(scope="module")
async def module_state(registry):
    registry.setdefault("modules", 0)
    registry["modules"] += 1
    yield registry
"""

RANDOM_ORDER_TESTS = """
import asyncio

import pytest


@pytest.fixture
async def fresh(module_state):
    await asyncio.sleep(0)
    yield []


@pytest.mark.parametrize("n", range(6))
async def test_param(fresh, n):
    fresh.append(n)
    await asyncio.sleep(0)
    assert fresh == [n]
    assert n % 4 != 3


@pytest.mark.awaitest(loop_scope="module")
async def test_shared_{m}(module_state):
    await asyncio.sleep(0)


class TestGroup:
    async def test_one(self, fresh):
        assert fresh == []

    async def test_fails(self, registry):
        assert registry == {{}}


def test_sync(fresh):
    assert fresh == []
"""

_OUTCOME = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+)")


def outcomes(result: pytest.RunResult) -> list[tuple[str, str]]:
    """The (node id, outcome) of every test, in the order of the short test summary."""
    return [
        (match[2], match[1]) for match in map(_OUTCOME.match, result.outlines) if match is not None
    ]


@pytest.mark.usefixtures("with_plugins")
def test_random_orders_give_every_test_its_outcome_in_file_order(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """pytest-randomly shuffles modules, classes and tests; no outcome changes."""
    pytester.makeconftest(RANDOM_ORDER_CONFTEST)
    for module in ("a", "b"):
        pytester.makepyfile(**{f"test_{module}": RANDOM_ORDER_TESTS.format(m=module)})
    in_order = run_subprocess("-p", "no:randomly", "-rA", timeout=LIMIT)
    in_order.assert_outcomes(passed=16, failed=4)
    expected = sorted(outcomes(in_order))
    orders = []
    for seed in (1, 2):
        shuffled = run_subprocess("-p", "randomly", f"--randomly-seed={seed}",
                                  "-rA", timeout=LIMIT)  # fmt: skip
        shuffled.stdout.fnmatch_lines([f"Using --randomly-seed={seed}"])
        assert sorted(outcomes(shuffled)) == expected
        orders.append([nodeid for nodeid, outcome in outcomes(shuffled) if outcome == "PASSED"])
    passed_in_order = [nodeid for nodeid, outcome in outcomes(in_order) if outcome == "PASSED"]
    assert any(order != passed_in_order for order in orders), "no run was shuffled"
