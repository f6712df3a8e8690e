"""Choosing what the guards do: presets and levels in the ini file, CLI and marker.

Every way of writing a policy (pytest.ini, pyproject.toml, --awaitest-guards,
the marker as a string or a dict) is parametrized in one test; every bad
value has its message pinned; the report header shows the policy in force.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

LEAK = """
import asyncio

import pytest

{marker}
async def test_leaves_a_task():
    asyncio.create_task(asyncio.sleep(10))
"""

#: A test making every mistake a guard finds.
EVERY_MISTAKE = """
import asyncio
import time

import pytest

{marker}


async def save():
    ...


async def crash():
    raise KeyError("prices")


async def ticks():
    yield 1
    yield 2


KEEP = []


async def test_everything():
    save()
    asyncio.create_task(crash())
    await asyncio.sleep(0.01)
    asyncio.create_task(asyncio.sleep(10))
    stream = ticks()
    await stream.__anext__()
    KEEP.append(stream)
    time.sleep(0.3)
"""


def configure(pytester: pytest.Pytester, way: str, policy: object) -> list[str]:
    """Set the guard policy one way; return the extra command-line arguments."""
    if way == "ini":
        pytester.makeini(f"[pytest]\nawaitest_guards = {policy}\n")
    elif way == "pyproject":
        pytester.makepyprojecttoml(f'[tool.pytest.ini_options]\nawaitest_guards = "{policy}"\n')
    elif way == "cli":
        return [f"--awaitest-guards={policy}"]
    return []


def marker(way: str, policy: object) -> str:
    """The module marker line for the marker ways ('' for the others)."""
    if way.startswith("marker"):
        return f"pytestmark = pytest.mark.awaitest(guards={policy!r})"
    return ""


@pytest.mark.parametrize(
    ("way", "policy"),
    [
        ("ini", "strict"),
        ("pyproject", "strict"),
        ("cli", "strict"),
        ("marker", "strict"),
        ("marker-dict", {"leaked_tasks": "error"}),
    ],
)
def test_strict_makes_a_leaked_task_an_error(
    pytester: pytest.Pytester, run: Run, way: str, policy: object
) -> None:
    """Under strict, a leaked task is an error in the test's teardown, not a warning."""
    args = configure(pytester, way, policy)
    pytester.makepyfile(test_strict=LEAK.format(marker=marker(way, policy)))
    result = run(*args)
    result.assert_outcomes(passed=1, errors=1, warnings=0)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_leaves_a_task _*",
            "test_strict.py::test_leaves_a_task: left a task running when it ended; awaitest "
            "cancelled it:",
            "  task 'Task-*' (coroutine sleep), created at test_strict.py:7, waiting at:",
        ]
    )


@pytest.mark.parametrize(
    ("way", "policy"),
    [
        ("ini", "off"),
        ("pyproject", "off"),
        ("cli", "off"),
        ("marker", "off"),
        (
            "marker-dict",
            {
                "never_awaited": "off",
                "task_errors": "off",
                "leaked_tasks": "off",
                "unclosed": "off",
                "blocking": "off",
            },
        ),
    ],
)
def test_off_silences_every_guard(
    pytester: pytest.Pytester, run_subprocess: Run, way: str, policy: object
) -> None:
    """With the guards off, a test making every mistake passes without a word from awaitest."""
    args = configure(pytester, way, policy)
    pytester.makepyfile(test_off=EVERY_MISTAKE.format(marker=marker(way, policy)))
    result = run_subprocess(*args)
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*AwaitestWarning*")
    result.stdout.no_fnmatch_line("*awaitest cancelled*")


def test_every_mistake_is_found_by_default(pytester: pytest.Pytester, run_subprocess: Run) -> None:
    """The counterpart of test_off_silences_every_guard: by default each mistake is reported."""
    pytester.makepyfile(test_off=EVERY_MISTAKE.format(marker=""))
    result = run_subprocess()
    result.assert_outcomes(failed=1, warnings=3)
    result.stdout.fnmatch_lines_random(
        [
            "test_off.py::test_everything: awaitest found 2 problems:",
            "1. the coroutine 'save' was created but never awaited*",
            "2. task 'Task-*' (coroutine crash)*failed and nobody retrieved its exception*",
            "*AwaitestWarning: test_off.py::test_everything: blocked the event loop*",
            "*AwaitestWarning: test_off.py::test_everything: left a task running*",
            "*AwaitestWarning: test_off.py::test_everything: left open when it ended:",
        ]
    )


@pytest.mark.parametrize("where", ["--awaitest-guards=off", "marker"])
def test_off_leaves_pythons_own_warning_about_a_coroutine_at_the_users_line(
    pytester: pytest.Pytester, run_subprocess: Run, where: str
) -> None:
    """With never_awaited off, Python's own RuntimeWarning points at the test's line."""
    mark = '@pytest.mark.awaitest(guards="never_awaited=off")' if where == "marker" else ""
    pytester.makepyfile(
        test_python=f"""
        import pytest


        async def save():
            ...


        {mark}
        def test_save():
            save()
        """
    )
    result = run_subprocess(*([where] if where != "marker" else []))
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "test_python.py::test_save",
            "  */test_python.py:10: RuntimeWarning: coroutine 'save' was never awaited",
        ]
    )
    result.stdout.no_fnmatch_line("*awaitest*coroutines.py*")
    result.stdout.no_fnmatch_line("*self._original(coro)*")
    if where != "marker":  # off for the whole run: not even tracking where coroutines start
        result.stdout.no_fnmatch_line("*Coroutine created at*")


@pytest.mark.parametrize(
    "relax", ["leaked_tasks=off", {"leaked_tasks": "off"}], ids=["string", "dict"]
)
def test_marker_relaxes_one_guard_for_one_test(
    pytester: pytest.Pytester, run: Run, relax: object
) -> None:
    """A marker turning leaked_tasks off spares its test only; the session stays strict."""
    pytester.makeini("[pytest]\nawaitest_guards = strict\n")
    pytester.makepyfile(
        test_relaxed=f"""
        import asyncio

        import pytest


        @pytest.mark.awaitest(guards={relax!r})
        async def test_fire_and_forget():
            asyncio.create_task(asyncio.sleep(10))


        async def test_also_leaks():
            asyncio.create_task(asyncio.sleep(10))
        """
    )
    result = run()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*_ ERROR at teardown of test_also_leaks _*"])
    result.stdout.no_fnmatch_line("*test_fire_and_forget: left a task running*")


def test_warn_level_turns_a_failure_into_a_warning(
    pytester: pytest.Pytester, run_subprocess: Run
) -> None:
    """never_awaited=warn reports the coroutine as an AwaitestWarning; the test passes."""
    pytester.makepyfile(
        test_warned="""
        async def save():
            ...


        async def test_save():
            save()
        """
    )
    result = run_subprocess("--awaitest-guards=never_awaited=warn")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*AwaitestWarning: test_warned.py::test_save: the coroutine 'save' was created but "
            "never awaited (at test_warned.py:6).*"
        ]
    )


def test_command_line_beats_the_ini_file_and_the_marker_beats_both(
    pytester: pytest.Pytester, run: Run
) -> None:
    """The ini file says strict, the CLI off: only the test whose marker says strict fails."""
    pytester.makeini("[pytest]\nawaitest_guards = strict\n")
    pytester.makepyfile(
        test_order="""
        import asyncio

        import pytest


        async def test_cli_wins():
            asyncio.create_task(asyncio.sleep(10))


        @pytest.mark.awaitest(guards="strict")
        async def test_marker_wins():
            asyncio.create_task(asyncio.sleep(10))
        """
    )
    result = run("--awaitest-guards=off")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*_ ERROR at teardown of test_marker_wins _*"])


def test_several_findings_are_numbered(pytester: pytest.Pytester, run: Run) -> None:
    """Two mistakes in one test are listed together, numbered."""
    pytester.makepyfile(
        test_two="""
        async def save():
            ...


        async def load():
            ...


        async def test_two():
            save()
            load()
        """
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_two.py::test_two: awaitest found 2 problems:",
            "1. the coroutine 'save' was created but never awaited (at test_two.py:10).*",
            "2. the coroutine 'load' was created but never awaited (at test_two.py:11).*",
        ]
    )


# -- bad values ---------------------------------------------------------------------------

GUARD_NAMES = "never_awaited, task_errors, leaked_tasks, unclosed, blocking, misuse"

BAD_POLICIES = [
    pytest.param("default leaks=off", f"unknown guard 'leaks'; the guards are: {GUARD_NAMES}.",
                 id="unknown-guard"),
    pytest.param("blocking=loud", "blocking='loud' is not a level; expected one of: error, "
                 "warn, off.", id="bad-level"),
    pytest.param("blocking=warn strict", "the preset 'strict' must come first (e.g. 'strict "
                 "blocking=warn').", id="preset-not-first"),
    pytest.param("lenient", "'lenient' is not a guard preset; expected one of: default, strict, "
                 f"off, or guard=level with guards {GUARD_NAMES}.", id="unknown-preset"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "message"), BAD_POLICIES)
@pytest.mark.parametrize("way", ["ini", "pyproject", "cli"])
def test_bad_session_policy_is_a_usage_error(
    pytester: pytest.Pytester, run: Run, way: str, value: str, message: str
) -> None:
    """A bad awaitest_guards / --awaitest-guards stops the run, naming the setting it is in."""
    args = configure(pytester, way, value)
    pytester.makepyfile(test_any="async def test_any(): ...")
    result = run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    setting = "--awaitest-guards" if way == "cli" else "awaitest_guards"
    result.stderr.fnmatch_lines([f"ERROR: {setting}: {message}"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        *BAD_POLICIES,
        pytest.param(3, "guards must be a string like 'strict' or 'leaked_tasks=off', or a "
                     "dict of guard names to levels; got 3.", id="not-a-string"),
        pytest.param({"leaks": "off"}, f"unknown guard 'leaks'; the guards are: {GUARD_NAMES}.",
                     id="dict-unknown-guard"),
        pytest.param({"blocking": "loud"}, "blocking='loud' is not a level; expected one of: "
                     "error, warn, off.", id="dict-bad-level"),
    ],
)  # fmt: skip
def test_bad_marker_policy_is_a_setup_error(
    pytester: pytest.Pytester, run: Run, value: object, message: str
) -> None:
    """A bad guards= in the marker is an error at the setup of that test; others run."""
    pytester.makepyfile(
        test_marked=f"""
        import pytest


        @pytest.mark.awaitest(guards={value!r})
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
            f"test_marked.py::test_marked: @pytest.mark.awaitest(guards=...): {message}",
        ]
    )


# -- the report header ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ini", "args", "header"),
    [
        ("", [], "guards=default, timeout=none"),
        ("", ["--awaitest-guards=strict", "--timeout=5"], "guards=strict, timeout=5s"),
        ("awaitest_guards = off\nawaitest_timeout = 0.5", [], "guards=off, timeout=0.5s"),
        ("", ["--awaitest-guards=never_awaited=warn"], "guards=default never_awaited=warn, *"),
    ],
    ids=["defaults", "cli", "ini", "one-level"],
)
def test_report_header_shows_guards_and_timeout(
    pytester: pytest.Pytester, run: Run, ini: str, args: list[str], header: str
) -> None:
    """The header says which guard policy and timeout the run uses."""
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_any="async def test_any(): ...")
    result = run(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"awaitest *: mode=auto, loop=asyncio, *, {header}"])
