"""Timeouts with pytest-timeout installed: awaitest cancels async tests, pytest-timeout the rest.

pytest-timeout is installed from the package index into a temporary
directory put on PYTHONPATH for the inner runs (as test_pytest_aiohttp.py
does), so the project's own environment stays without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from inner import pip_install

Run = Callable[..., pytest.RunResult]

LIMIT = 60


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding pytest-timeout."""
    return pip_install(tmp_path_factory.mktemp("site"), "--no-deps", "pytest-timeout>=2.3")


@pytest.fixture
def with_pytest_timeout(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner subprocess runs see pytest-timeout."""
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.delenv("PYTEST_TIMEOUT", raising=False)


@pytest.mark.usefixtures("with_pytest_timeout")
def test_async_test_is_cancelled_by_awaitest_not_killed(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """An async test past pytest-timeout's timeout is cancelled; the process lives on.

    With pytest-timeout's thread method, its own expiry would end the process.
    """
    pytester.makeini("[pytest]\ntimeout_method = thread\n")
    pytester.makepyfile(
        test_hang="""
        import asyncio

        import pytest


        @pytest.mark.timeout(0.5)
        async def test_waits():
            await asyncio.Event().wait()


        def test_next():
            pass
        """
    )
    result = run_subprocess(timeout=LIMIT)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "plugins: *timeout-*",
            "test_hang.py::test_waits: the test timed out after 0.5 s (pytest-timeout's "
            "timeout); awaitest cancelled it while it was waiting at:",
            "  test_hang.py:8 in test_waits",
            "      await asyncio.Event().wait()",
        ]
    )
    result.stdout.no_fnmatch_line("*Timeout (>0.5s) from pytest-timeout*")


@pytest.mark.usefixtures("with_pytest_timeout")
def test_sync_test_is_still_timed_by_pytest_timeout(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """A sync test past its timeout fails with pytest-timeout's own message, once."""
    pytester.makepyfile(
        test_sync="""
        import time

        import pytest


        @pytest.mark.timeout(0.5)
        def test_sleeps():
            time.sleep(5)


        def test_next():
            pass
        """
    )
    result = run_subprocess(timeout=LIMIT)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["E       Failed: Timeout (>0.5s) from pytest-timeout."])
    result.stdout.no_fnmatch_line("*awaitest interrupted*")


@pytest.mark.parametrize(
    ("ini", "args"),
    [
        ("timeout = 0.3", ["--awaitest-timeout=5"]),
        ("timeout = 0.3\nawaitest_timeout = 5", []),
        ("", ["--timeout=0.3", "--awaitest-timeout=5"]),
    ],
    ids=["awaitest-cli-beats-timeout-ini", "awaitest-ini-beats-timeout-ini",
         "awaitest-cli-beats-timeout-cli"],
)  # fmt: skip
@pytest.mark.usefixtures("with_pytest_timeout")
def test_awaitest_names_beat_pytest_timeouts_settings(
    pytester: pytest.Pytester, run_subprocess: Run, ini: str, args: list[str]
) -> None:
    """The awaitest settings win over pytest-timeout's at the same level or below.

    The test sleeps 0.6 s: it passes under awaitest's 5 s, fails under pytest-timeout's 0.3 s.
    """
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(
        test_order="""
        import asyncio


        async def test_sleeps():
            await asyncio.sleep(0.6)
        """
    )
    result = run_subprocess(*args, timeout=LIMIT)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["awaitest *, timeout=5s"])


@pytest.mark.usefixtures("with_pytest_timeout")
def test_awaitest_marker_beats_pytest_timeouts_settings(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """@pytest.mark.awaitest(timeout=...) wins over pytest-timeout's ini key and marker."""
    pytester.makeini("[pytest]\ntimeout = 5\n")
    pytester.makepyfile(
        test_marked="""
        import asyncio

        import pytest


        @pytest.mark.timeout(5)
        @pytest.mark.awaitest(timeout=0.3)
        async def test_sleeps():
            await asyncio.sleep(0.6)
        """
    )
    result = run_subprocess(timeout=LIMIT)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_marked.py::test_sleeps: the test timed out after 0.3 s "
            "(@pytest.mark.awaitest(timeout=...)); awaitest cancelled it while it was waiting at:"
        ]
    )
