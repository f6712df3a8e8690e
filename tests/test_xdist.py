"""pytest-xdist: a suite run with `-n 2` has the same outcomes as a serial run.

Each xdist worker is its own pytest session, so session- and module-scoped
async fixtures get a loop per worker; the tests that use them must still see
one loop, and the loop-factory parametrization must be identical on every
worker (xdist refuses to run when workers collect different test ids).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

CONFTEST = """
import asyncio
import pytest

@pytest.fixture(scope="session")
async def session_loop():
    yield asyncio.get_running_loop()

@pytest.fixture(scope="module")
async def module_resource(session_loop):
    await asyncio.sleep(0)
    yield {"loop": asyncio.get_running_loop()}
"""

TEST_TEMPLATE = """
import asyncio
import pytest

@pytest.fixture
async def function_value():
    await asyncio.sleep(0)
    yield asyncio.get_running_loop()

async def test_session_{n}(session_loop):
    assert asyncio.get_running_loop() is session_loop

async def test_module_{n}(session_loop, module_resource):
    assert module_resource["loop"] is session_loop is asyncio.get_running_loop()

async def test_function_{n}(function_value):
    assert function_value is asyncio.get_running_loop()

@pytest.mark.parametrize("x", [1, 2])
async def test_param_{n}(x, session_loop):
    await asyncio.sleep(0)
    assert asyncio.get_running_loop() is session_loop

def test_sync_{n}(module_resource, session_loop):
    assert module_resource["loop"] is session_loop

async def test_fails_{n}(function_value):
    assert function_value is None, "intended failure"
"""


def make_suite(pytester: pytest.Pytester) -> None:
    """Write a conftest with wide async fixtures and two test modules using them."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_one=TEST_TEMPLATE.format(n="one"), test_two=TEST_TEMPLATE.format(n="two")
    )


def test_two_workers_give_the_serial_outcomes(
    pytester: pytest.Pytester, run: Run, run_subprocess: Run
) -> None:
    """Async tests with session, module and function async fixtures pass and fail alike."""
    make_suite(pytester)
    serial = run()
    serial.assert_outcomes(passed=12, failed=2)
    parallel = run_subprocess("-n", "2", timeout=120)
    parallel.assert_outcomes(passed=12, failed=2)
    assert parallel.parseoutcomes() == serial.parseoutcomes()
    parallel.stdout.fnmatch_lines(["*created: 2/2 workers*"])
    parallel.stdout.fnmatch_lines_random(
        [
            "FAILED test_one.py::test_fails_one*intended failure*",
            "FAILED test_two.py::test_fails_two*intended failure*",
        ]
    )


def test_two_workers_collect_the_same_loop_factory_ids(
    pytester: pytest.Pytester, run: Run, run_subprocess: Run
) -> None:
    """With two loop factories, both workers collect the same [asyncio]/[uvloop] test ids."""
    pytest.importorskip("uvloop")
    pytester.makeini("[pytest]\nawaitest_loop_factory = asyncio uvloop\n")
    pytester.makepyfile(
        test_factories="""
import asyncio
import pytest

@pytest.fixture
async def fixture_loop():
    return asyncio.get_running_loop()

@pytest.mark.parametrize("x", range(3))
async def test_loop(request, fixture_loop, x):
    loop = asyncio.get_running_loop()
    assert fixture_loop is loop
    expected = request.node.callspec.id.split("-")
    assert type(loop).__module__.split(".")[0] in expected

def test_sync():
    pass
"""
    )
    serial = run()
    serial.assert_outcomes(passed=7)
    parallel = run_subprocess("-n", "2", "-v", timeout=120)
    parallel.assert_outcomes(passed=7)
    parallel.stdout.fnmatch_lines_random(
        [
            "*PASSED test_factories.py::test_loop[[]asyncio-0[]]*",
            "*PASSED test_factories.py::test_loop[[]uvloop-2[]]*",
            "*PASSED test_factories.py::test_sync*",
        ]
    )
