"""pytest-asyncio's ways of choosing loops, served by awaitest.

The `pytest_asyncio_loop_factories` hook, `mark.asyncio(loop_factories=...)`
and an `event_loop_policy` override.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

HOOK_CONFTEST = """
import asyncio


class LoopA(asyncio.SelectorEventLoop):
    pass


class LoopB(asyncio.SelectorEventLoop):
    pass


def pytest_asyncio_loop_factories(config, item):
    return {"a": LoopA, "b": LoopB}
"""


def test_hook_factories_parametrize_async_tests_by_name(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Each async test runs once per hook factory, with the names as ids, factory first."""
    pytester.makeconftest(HOOK_CONFTEST)
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.mark.parametrize("n", [1, 2])
        async def test_loop(n):
            assert type(asyncio.get_running_loop()).__name__ in ("LoopA", "LoopB")

        def test_sync():
            pass
        """
    )
    result = run("-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "*::test_loop[[]a-1[]] PASSED*",
            "*::test_loop[[]a-2[]] PASSED*",
            "*::test_loop[[]b-1[]] PASSED*",
            "*::test_loop[[]b-2[]] PASSED*",
            "*::test_sync PASSED*",
        ]
    )


def test_marker_selects_factories_and_skips_missing_names(
    pytester: pytest.Pytester, run: Run
) -> None:
    """mark.asyncio(loop_factories=[...]) picks hook factories; unknown names are skipped."""
    pytester.makeconftest(HOOK_CONFTEST)
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.mark.asyncio(loop_factories=["b", "missing"])
        async def test_selected():
            assert type(asyncio.get_running_loop()).__name__ == "LoopB"

        @pytest.mark.asyncio(loop_factories=["a"])
        async def test_single():
            assert type(asyncio.get_running_loop()).__name__ == "LoopA"
        """
    )
    result = run("-v", "-rs")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*::test_selected[[]b[]] PASSED*",
            "*::test_single PASSED*",
            "SKIPPED [[]1[]] *: Loop factory 'missing' is not available. "
            "Available factories: a, b.",
        ]
    )


@pytest.mark.parametrize("body", ["return None", "return {}", "return {'a': 1}", "return [1]"])
def test_bad_hook_result_is_a_usage_error(pytester: pytest.Pytester, run: Run, body: str) -> None:
    """A hook returning anything but a non-empty mapping of names to callables: collection error."""
    pytester.makeconftest(f"def pytest_asyncio_loop_factories(config, item):\n    {body}\n")
    pytester.makepyfile("async def test_it():\n    pass\n")
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*pytest_asyncio_loop_factories must return a non-empty mapping of "
            "factory names to callables."
        ]
    )


POLICY_CONFTEST = """
import asyncio
import pytest


class PolicyLoop(asyncio.SelectorEventLoop):
    pass


class Policy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        return PolicyLoop()


@pytest.fixture(scope="session"{params})
def event_loop_policy(request):
    return Policy()
"""


@pytest.mark.parametrize(
    ("params", "expected"),
    [("", ["test_uses_policy", "test_sync"]), (', params=["p", "q"]', None)],
    ids=["plain", "parametrized"],
)
def test_event_loop_policy_override_makes_the_loops(
    pytester: pytest.Pytester, run: Run, params: str, expected: list[str] | None
) -> None:
    """An event_loop_policy override makes the loops; a parametrized one parametrizes tests."""
    pytester.makeconftest(POLICY_CONFTEST.format(params=params))
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

        async def test_uses_policy():
            assert type(asyncio.get_running_loop()).__name__ == "PolicyLoop"

        def test_sync():
            pass
        """
    )
    result = run("-v", "-W", "error")
    if expected is None:
        result.assert_outcomes(passed=4)
        result.stdout.fnmatch_lines(["*test_uses_policy[[]p[]] PASSED*", "*test_sync[[]q[]]*"])
    else:
        result.assert_outcomes(passed=2)


def test_event_loop_policy_override_warns_that_it_is_deprecated(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Overriding event_loop_policy gives pytest-asyncio's deprecation warning, at setup."""
    pytester.makeconftest(POLICY_CONFTEST.format(params=""))
    pytester.makepyfile("async def test_it():\n    pass\n")
    result = run()
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            '*PytestDeprecationWarning: Overriding the "event_loop_policy" fixture is '
            "deprecated and will be removed in a future version of pytest-asyncio. Use the "
            '"pytest_asyncio_loop_factories" hook to customize event loop creation.'
        ]
    )


def test_no_policy_warning_without_an_override(pytester: pytest.Pytester, run: Run) -> None:
    """The event_loop_policy fixture awaitest provides warns about nothing."""
    pytester.makepyfile(
        """
        import asyncio

        async def test_it(event_loop_policy):
            assert event_loop_policy is not None
        """
    )
    run("-W", "error").assert_outcomes(passed=1)
