"""Async xunit hooks, unittest classes, async-generator tests and Hypothesis.

Async `setup_method`/`teardown_method` run on the test's loop and async
`setup_class`/`teardown_class` on a loop the class's tests share. An async
test on a plain `unittest.TestCase` and an async-generator test fail with a
message saying why, instead of passing without running. Hypothesis `@given`
async tests run every example on the test's loop.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inner import LOG_HELPER, events

Run = Callable[..., pytest.RunResult]


@pytest.mark.parametrize(
    ("setup_sig", "teardown_sig"),
    [("self, method", "self, method"), ("self", "self")],
    ids=["with-method", "without-method"],
)
def test_async_setup_and_teardown_method_run_on_the_tests_loop(
    pytester: pytest.Pytester, run: Run, setup_sig: str, teardown_sig: str
) -> None:
    """Async setup_method/teardown_method are awaited on the same loop as the test."""
    pytester.makepyfile(
        LOG_HELPER
        + f"""
import asyncio

class TestHooks:
    async def setup_method({setup_sig}):
        await asyncio.sleep(0)
        self.loop = asyncio.get_running_loop()
        log("setup_method")

    async def teardown_method({teardown_sig}):
        await asyncio.sleep(0)
        same = asyncio.get_running_loop() is self.loop
        log(f"teardown_method same_loop={{same}}")

    async def test_one(self):
        assert asyncio.get_running_loop() is self.loop
        log("test_one")

    async def test_two(self):
        assert asyncio.get_running_loop() is self.loop
        log("test_two")
"""
    )
    result = run()
    result.assert_outcomes(passed=2, errors=0)
    teardown = "teardown_method same_loop=True"
    assert events(pytester) == [
        "setup_method",
        "test_one",
        teardown,
        "setup_method",
        "test_two",
        teardown,
    ]


def test_async_setup_method_receives_the_test_method(pytester: pytest.Pytester, run: Run) -> None:
    """An async setup_method taking `method` is passed the test function about to run."""
    pytester.makepyfile(
        """
class TestHooks:
    async def setup_method(self, method):
        self.name = method.__name__

    async def test_named(self):
        assert self.name == "test_named"
"""
    )
    result = run()
    result.assert_outcomes(passed=1)


def test_async_setup_and_teardown_class_share_the_class_loop(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Async setup_class/teardown_class are awaited; the class's tests run on their loop."""
    pytester.makepyfile(
        LOG_HELPER
        + """
import asyncio

class TestShared:
    @classmethod
    async def setup_class(cls):
        await asyncio.sleep(0)
        cls.loop = asyncio.get_running_loop()
        cls.ready = asyncio.Event()
        log("setup_class")

    @classmethod
    async def teardown_class(cls):
        await asyncio.sleep(0)
        log(f"teardown_class same_loop={asyncio.get_running_loop() is cls.loop}")

    async def test_a(self):
        assert asyncio.get_running_loop() is self.loop
        self.ready.set()
        log("test_a")

    async def test_b(self):
        assert asyncio.get_running_loop() is self.loop
        await asyncio.wait_for(self.ready.wait(), 1)
        log("test_b")

    def test_sync(self):
        log("test_sync")

async def test_outside():
    assert asyncio.get_running_loop() is not TestShared.loop
    assert TestShared.loop.is_closed()
    log("test_outside")
"""
    )
    result = run()
    result.assert_outcomes(passed=4, errors=0)
    assert events(pytester) == [
        "setup_class",
        "test_a",
        "test_b",
        "test_sync",
        "teardown_class same_loop=True",
        "test_outside",
    ]


def test_sync_xunit_hooks_are_unaffected(pytester: pytest.Pytester, run: Run) -> None:
    """Sync setup_class/setup_method/teardown hooks run as pytest runs them, around async tests."""
    pytester.makepyfile(
        LOG_HELPER
        + """
import asyncio

class TestSyncHooks:
    @classmethod
    def setup_class(cls):
        log("setup_class")

    @classmethod
    def teardown_class(cls):
        log("teardown_class")

    def setup_method(self, method):
        self.name = method.__name__
        log(f"setup_method {method.__name__}")

    def teardown_method(self, method):
        log(f"teardown_method {method.__name__}")

    async def test_async(self):
        await asyncio.sleep(0)
        log(f"test_async name={self.name}")

    def test_sync(self):
        log(f"test_sync name={self.name}")
"""
    )
    result = run()
    result.assert_outcomes(passed=2, errors=0)
    assert events(pytester) == [
        "setup_class",
        "setup_method test_async",
        "test_async name=test_async",
        "teardown_method test_async",
        "setup_method test_sync",
        "test_sync name=test_sync",
        "teardown_method test_sync",
        "teardown_class",
    ]


def test_async_test_on_plain_testcase_fails(pytester: pytest.Pytester, run: Run) -> None:
    """An async test on a plain unittest.TestCase fails instead of passing without running."""
    pytester.makepyfile(
        test_plain="""
import unittest

class TestX(unittest.TestCase):
    async def test_y(self):
        pass

    def test_sync(self):
        self.assertTrue(True)
"""
    )
    result = run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_plain.py::TestX::test_y: TestX.test_y is async, but TestX is a plain "
            "unittest.TestCase, which calls it without awaiting it (the test would pass without "
            "running). Derive the class from unittest.IsolatedAsyncioTestCase, or drop TestCase "
            "and let awaitest run it as a plain pytest test.",
            "FAILED test_plain.py::TestX::test_y*",
        ]
    )


def test_isolated_asyncio_testcase_runs_as_unittest_runs_it(
    pytester: pytest.Pytester, run: Run
) -> None:
    """IsolatedAsyncioTestCase (asyncSetUp included) passes and fails as unittest decides."""
    pytester.makepyfile(
        test_isolated="""
import asyncio
import unittest

class TestIsolated(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        await asyncio.sleep(0)
        self.value = 42

    async def test_passes(self):
        await asyncio.sleep(0)
        self.assertEqual(self.value, 42)

    async def test_fails(self):
        await asyncio.sleep(0)
        self.assertEqual(self.value, 43, "value from asyncSetUp is not 43")
"""
    )
    result = run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: 42 != 43 : value from asyncSetUp is not 43",
            "FAILED test_isolated.py::TestIsolated::test_fails*",
        ]
    )


def test_async_generator_test_fails(pytester: pytest.Pytester, run: Run) -> None:
    """An async generator function used as a test fails with a message saying to remove yield."""
    pytester.makepyfile(
        test_agen="""
async def test_gen():
    yield 1
"""
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_agen.py::test_gen: the test is an async generator function (it contains "
            "'yield'), so it can't run as a test. Remove the yield; to share setup, move it "
            "into a fixture.",
            "FAILED test_agen.py::test_gen*",
        ]
    )


def test_hypothesis_examples_run_on_the_tests_loop(pytester: pytest.Pytester, run: Run) -> None:
    """Every @given example of an async test runs on the loop of that test's fixtures."""
    pytester.makepyfile(
        LOG_HELPER
        + """
import asyncio
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

@pytest.fixture
async def fixture_loop():
    return asyncio.get_running_loop()

@settings(
    max_examples=15,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.integers())
async def test_property(fixture_loop, x):
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    log(f"example same_loop={loop is fixture_loop} closed={loop.is_closed()}")
"""
    )
    result = run()
    result.assert_outcomes(passed=1)
    assert events(pytester) == ["example same_loop=True closed=False"] * 15


def test_hypothesis_failing_property_reports_falsifying_example(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A failing async @given property fails the test and shows the falsifying example."""
    pytester.makepyfile(
        test_prop="""
import asyncio
from hypothesis import given, settings, strategies as st

@settings(database=None, deadline=None)
@given(st.integers())
async def test_small(x):
    await asyncio.sleep(0)
    assert x < 100
"""
    )
    result = run()
    result.assert_outcomes(failed=1)
    # Hypothesis renamed "Falsifying example" to "Failing test case" in recent releases.
    result.stdout.re_match_lines(
        [
            r".*(Falsifying example|Failing test case): test_small\($",
            r".*x=100,$",
            r"FAILED test_prop.py::test_small",
        ]
    )


def test_hypothesis_with_async_fixtures(pytester: pytest.Pytester, run: Run) -> None:
    """An async @given test gets values from async fixtures of function and session scope."""
    pytester.makepyfile(
        """
import asyncio
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

@pytest.fixture(scope="session")
async def queue():
    q = asyncio.Queue()
    yield q
    assert q.empty()

@pytest.fixture
async def offset():
    await asyncio.sleep(0)
    return 10

@settings(
    max_examples=10,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.integers(min_value=0, max_value=5))
async def test_roundtrip(queue, offset, x):
    await queue.put(x + offset)
    assert await queue.get() == x + 10
"""
    )
    result = run()
    result.assert_outcomes(passed=1, errors=0)
