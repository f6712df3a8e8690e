"""Setting per-test timeouts: every way, which one wins, and bad values.

Every way of setting a timeout (pytest-timeout's names, which work without
it, and awaitest's own) is parametrized in one test, and their precedence in
another. Inner runs go through a subprocess, bounded in time, because
timeouts use a watchdog thread and SIGALRM; their timeouts are a fraction of
a second. What a timeout does when it expires is in test_timeouts_expiry.py;
pytest-timeout itself in test_timeouts_pytest_timeout.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

#: Bound on every inner run: a broken timeout must fail the test, not hang the suite.
LIMIT = 60

AWAITEST_MARKER = "@pytest.mark.awaitest(timeout=...)"


HANG = """
import asyncio

import pytest

{marker}
async def test_waits():
    await asyncio.Event().wait()


async def test_next():
    pass
"""


@pytest.mark.parametrize(
    ("way", "source"),
    [
        ("timeout-marker", "@pytest.mark.timeout"),
        ("timeout-ini", "the timeout ini key"),
        ("--timeout", "--timeout"),
        ("PYTEST_TIMEOUT", "PYTEST_TIMEOUT"),
        ("awaitest-marker", "@pytest.mark.awaitest(timeout=...)"),
        ("awaitest_timeout-ini", "the awaitest_timeout ini key"),
        ("awaitest_timeout-pyproject", "the awaitest_timeout ini key"),
        ("--awaitest-timeout", "--awaitest-timeout"),
    ],
)
def test_every_way_of_setting_a_timeout(
    pytester: pytest.Pytester,
    run_subprocess: Run,
    monkeypatch: pytest.MonkeyPatch,
    way: str,
    source: str,
) -> None:
    """Each way cancels a hung async test after its timeout and names where it was set."""
    marker, args = "", []
    if way == "timeout-marker":
        marker = "@pytest.mark.timeout(0.3)"
    elif way == "awaitest-marker":
        marker = "@pytest.mark.awaitest(timeout=0.3)"
    elif way == "timeout-ini":
        pytester.makeini("[pytest]\ntimeout = 0.3\n")
    elif way == "awaitest_timeout-ini":
        pytester.makeini("[pytest]\nawaitest_timeout = 0.3\n")
    elif way == "awaitest_timeout-pyproject":
        pytester.makepyprojecttoml('[tool.pytest.ini_options]\nawaitest_timeout = "0.3"\n')
    elif way == "PYTEST_TIMEOUT":
        monkeypatch.setenv("PYTEST_TIMEOUT", "0.3")
    else:
        args = [f"{way}=0.3"]
    pytester.makepyfile(test_hang=HANG.format(marker=marker))
    result = run_subprocess(*args, timeout=LIMIT)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_waits _*",
            f"test_hang.py::test_waits: the test timed out after 0.3 s ({source}); awaitest "
            "cancelled it while it was waiting at:",
            "  test_hang.py:7 in test_waits",
            "      await asyncio.Event().wait()",
        ]
    )
    if "marker" not in way:
        result.stdout.fnmatch_lines(["awaitest *, timeout=0.3s"])


@pytest.mark.parametrize(
    ("ini", "markers", "args", "source"),
    [
        ("", ["timeout(0.3)"], ["--timeout=5"], "@pytest.mark.timeout"),
        ("", ["timeout(5)"], ["--timeout=0.3"], None),
        ("", ["timeout(0)"], ["--timeout=0.3"], None),
        ("timeout = 5", [], ["--timeout=0.3"], "--timeout"),
        ("timeout = 0.3", [], ["--timeout=5"], None),
        ("awaitest_timeout = 0.3", [], ["--timeout=5"], None),
        ("", ["awaitest(timeout=0.3)"], ["--awaitest-timeout=5"], AWAITEST_MARKER),
        ("", ["awaitest(timeout=5)"], ["--awaitest-timeout=0.3"], None),
        ("", ["timeout(0.3)", "awaitest(timeout=5)"], [], None),
        ("", ["timeout(5)", "awaitest(timeout=0.3)"], [], AWAITEST_MARKER),
        ("", [], ["--awaitest-timeout=5", "--timeout=0.3"], None),
        ("awaitest_timeout = 5\ntimeout = 0.3", [], [], None),
    ],
    ids=[
        "marker-beats-cli", "marker-beats-cli-longer", "marker-0-is-no-timeout",
        "cli-beats-ini", "cli-beats-ini-longer", "cli-beats-awaitest-ini",
        "awaitest-marker-beats-awaitest-cli", "awaitest-marker-beats-awaitest-cli-longer",
        "awaitest-marker-beats-timeout-marker", "awaitest-marker-beats-timeout-marker-shorter",
        "awaitest-cli-beats-timeout-cli", "awaitest-ini-beats-timeout-ini",
    ],
)  # fmt: skip
def test_marker_beats_command_line_beats_ini(
    pytester: pytest.Pytester,
    run_subprocess: Run,
    ini: str,
    markers: list[str],
    args: list[str],
    source: str | None,
) -> None:
    """The closest setting wins; at one level awaitest's name beats pytest-timeout's.

    The test sleeps 0.6 s: it fails if the winning timeout is 0.3 s, passes if 5 s or none.
    """
    pytester.makeini(f"[pytest]\n{ini}\n")
    decorators = "".join(f"@pytest.mark.{marker}\n" for marker in markers)
    pytester.makepyfile(
        test_order=(
            "import asyncio\n\nimport pytest\n\n\n"
            f"{decorators}async def test_sleeps():\n    await asyncio.sleep(0.6)\n"
        )
    )
    result = run_subprocess(*args, timeout=LIMIT)
    if source is None:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            [f"test_order.py::test_sleeps: the test timed out after 0.3 s ({source});*"]
        )


# -- bad values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--awaitest-timeout=-1"], "--awaitest-timeout: '-1' is not a number of seconds"),
        (["--timeout=soon"], "--timeout: 'soon' is not a number of seconds"),
        (["-o", "awaitest_timeout=soon"], "the awaitest_timeout ini key: 'soon' is not a number "
         "of seconds"),
        (["-o", "timeout=inf"], "the timeout ini key: 'inf' is not a number of seconds"),
    ],
    ids=["--awaitest-timeout", "--timeout", "awaitest_timeout", "timeout"],
)  # fmt: skip
def test_bad_session_timeout_is_a_usage_error(
    pytester: pytest.Pytester, run: Run, args: list[str], message: str
) -> None:
    """A timeout that is not a number of seconds stops the run, naming where it was set."""
    pytester.makepyfile(test_any="async def test_any(): ...")
    result = run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}; write e.g. 10 or 0.5 (0: no limit)."])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("awaitest(timeout='soon')",
         "@pytest.mark.awaitest(timeout=...): 'soon' is not a number of seconds; write e.g. 10 "
         "or 0.5 (0: no limit)."),
        ("timeout('soon')",
         "@pytest.mark.timeout('soon'): 'soon' is not a number of seconds; write e.g. 10 or 0.5 "
         "(0: no limit)."),
        ("timeout()", "@pytest.mark.timeout needs a number of seconds, e.g. "
         "@pytest.mark.timeout(10)."),
    ],
    ids=["awaitest", "timeout", "timeout-empty"],
)  # fmt: skip
def test_bad_marker_timeout_is_one_setup_error(
    pytester: pytest.Pytester, run: Run, marker: str, message: str
) -> None:
    """A bad timeout in a marker is one error at that test's setup; the other tests run."""
    pytester.makepyfile(
        test_marked=f"""
        import pytest


        @pytest.mark.{marker}
        async def test_marked():
            pass


        async def test_other():
            pass
        """
    )
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_marked _*",
            f"test_marked.py::test_marked: {message}",
        ]
    )
