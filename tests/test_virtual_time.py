"""Virtual time through pytest: turning it on and off, exact loop time, the fixture, errors.

The clock itself is tested directly in test_clock.py; here inner runs check
that the marker, the ini key and the `virtual_clock` fixture put a test (and
its function-scoped async fixtures) on virtual time, that it comes off
again, and that every mistake is an error with a pinned message. Inner tests
assert exact loop times and little real time, so a test left on real time
fails.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

#: An inner test that passes only on virtual time.
ON_VIRTUAL_TIME = """
import asyncio
import time

import pytest

{module_marker}


{marker}
async def test_an_hour({fixture}):
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    start = loop.time()
    await asyncio.sleep(3600)
    assert loop.time() - start == 3600
    assert time.monotonic() - started < 1
"""


@pytest.mark.parametrize(
    "way", ["marker", "module-marker", "class-marker", "ini", "pyproject", "fixture"]
)
def test_ways_to_turn_virtual_time_on(pytester: pytest.Pytester, run: Run, way: str) -> None:
    """The marker (test, class or module), the ini key or the fixture: an hour takes no time."""
    marker = "@pytest.mark.awaitest(virtual_time=True)" if way == "marker" else ""
    module_marker = (
        "pytestmark = pytest.mark.awaitest(virtual_time=True)" if way == "module-marker" else ""
    )
    fixture = "virtual_clock" if way == "fixture" else ""
    if way == "ini":
        pytester.makeini("[pytest]\nawaitest_virtual_time = true\n")
    elif way == "pyproject":
        pytester.makepyprojecttoml("[tool.pytest.ini_options]\nawaitest_virtual_time = true\n")
    source = ON_VIRTUAL_TIME.format(module_marker=module_marker, marker=marker, fixture=fixture)
    if way == "class-marker":
        source = source.replace(
            "async def test_an_hour():",
            "@pytest.mark.awaitest(virtual_time=True)\nclass TestHour:\n"
            "  async def test_an_hour(self):",
        ).replace("\n    ", "\n      ")
    pytester.makepyfile(test_hour=source)
    result = run()
    result.assert_outcomes(passed=1)


def test_off_by_default(pytester: pytest.Pytester, run: Run) -> None:
    """The counterpart: without any of them the same test runs on real time and fails."""
    pytester.makepyfile(
        test_hour=ON_VIRTUAL_TIME.format(module_marker="", marker="", fixture="").replace(
            "3600", "0.05"
        )
    )
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E       assert * == 0.05"])


def test_loop_time_is_exact(pytester: pytest.Pytester, run: Run) -> None:
    """The clock starts at 0.0; five gathered 0.01 s sleeps take exactly 0.01 s."""
    pytester.makepyfile(
        test_exact="""
        import asyncio

        import pytest


        @pytest.mark.awaitest(virtual_time=True)
        async def test_gathered_sleeps():
            loop = asyncio.get_running_loop()
            assert loop.time() == 0.0
            await asyncio.gather(*(asyncio.sleep(0.01) for _ in range(5)))
            assert loop.time() == 0.01
            await asyncio.sleep(0.02)
            assert loop.time() == 0.03
        """
    )
    result = run()
    result.assert_outcomes(passed=1)


def test_function_scoped_async_fixtures_share_the_tests_clock(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A function-scoped async fixture's setup and teardown run on the test's virtual clock."""
    pytester.makepyfile(
        test_fixture="""
        import asyncio
        import pathlib

        import pytest


        @pytest.fixture
        async def session():
            loop = asyncio.get_running_loop()
            await asyncio.sleep(5)
            yield loop.time()
            await asyncio.sleep(1)
            pathlib.Path("log.txt").write_text(str(loop.time()))


        @pytest.mark.awaitest(virtual_time=True)
        async def test_after_login(session):
            assert session == 5.0
            await asyncio.sleep(10)
            assert asyncio.get_running_loop().time() == 15.0
        """
    )
    result = run()
    result.assert_outcomes(passed=1)
    assert (pytester.path / "log.txt").read_text() == "16.0"


def test_advance_by_hand_with_autojump_off(pytester: pytest.Pytester, run: Run) -> None:
    """With autojump off, time moves only by advance(); due timers fire on the next await."""
    pytester.makepyfile(
        test_expiry="""
        import asyncio


        async def test_ttl(virtual_clock):
            virtual_clock.autojump = False
            loop = asyncio.get_running_loop()
            fired = []
            loop.call_later(60, fired.append, "expired")
            await virtual_clock.wait_all_tasks_blocked()
            assert virtual_clock.time() == 0.0
            virtual_clock.advance(59.5)
            await virtual_clock.wait_all_tasks_blocked()
            assert fired == []
            virtual_clock.advance(0.5)
            await virtual_clock.wait_all_tasks_blocked()
            assert fired == ["expired"]
            assert loop.time() == 60.0
        """
    )
    result = run()
    result.assert_outcomes(passed=1)


REAL_TIME = """
import asyncio
import time

import pytest

{module}


@pytest.mark.awaitest(virtual_time=True)
async def test_virtual({fixture}):
    await asyncio.sleep(3600)


{marker}
async def test_real({fixture}):
    started = time.monotonic()
    await asyncio.sleep(0.05)
    assert time.monotonic() - started >= 0.05
"""


@pytest.mark.parametrize(
    ("ini", "marker"),
    [
        ("awaitest_virtual_time = true", "@pytest.mark.awaitest(virtual_time=False)"),
        ("", ""),
    ],
    ids=["marker-overrides-ini", "clock-comes-off-after-the-test"],
)
def test_a_test_on_real_time(pytester: pytest.Pytester, run: Run, ini: str, marker: str) -> None:
    """virtual_time=False overrides the ini key; a test after a virtual one runs on real time."""
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_real=REAL_TIME.format(module="", fixture="", marker=marker))
    result = run()
    result.assert_outcomes(passed=2)


def test_virtual_time_on_a_shared_loop_covers_the_test_only(
    pytester: pytest.Pytester, run: Run
) -> None:
    """On a module fixture's loop, the virtual test is virtual and the next test is real."""
    pytester.makepyfile(
        test_real=REAL_TIME.format(
            module=(
                "@pytest.fixture(scope='module')\n"
                "async def shared():\n"
                "    return asyncio.get_running_loop()\n"
            ),
            fixture="shared",
            marker="",
        )
    )
    result = run()
    result.assert_outcomes(passed=2)


# -- mistakes ---------------------------------------------------------------------------------


def test_virtual_clock_in_a_sync_test_is_an_error(pytester: pytest.Pytester, run: Run) -> None:
    """A sync test asking for virtual_clock is told it only works in async tests."""
    pytester.makepyfile(
        test_sync="""
        def test_sync(virtual_clock):
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_sync _*",
            "test_sync.py::test_sync: the virtual_clock fixture is for async tests awaitest runs; "
            "this test is not one. Make it 'async def' (in strict mode, mark it "
            "@pytest.mark.awaitest), or do not request virtual_clock.",
        ]
    )


def test_virtual_clock_with_virtual_time_off_is_an_error(
    pytester: pytest.Pytester, run: Run
) -> None:
    """Asking for the clock and turning virtual time off contradict each other."""
    pytester.makepyfile(
        test_both="""
        import pytest


        @pytest.mark.awaitest(virtual_time=False)
        async def test_both(virtual_clock):
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_both _*",
            "test_both.py::test_both: requests the virtual_clock fixture but turns virtual time "
            "off (virtual_time=False); remove one or the other.",
        ]
    )


@pytest.mark.parametrize("way", ["marker", "ini"])
def test_uvloop_on_virtual_time_is_a_setup_error(
    pytester: pytest.Pytester, run: Run, way: str
) -> None:
    """A uvloop test on virtual time is a setup error saying what to change; nothing runs."""
    pytest.importorskip("uvloop")
    if way == "ini":
        pytester.makeini("[pytest]\nawaitest_loop_factory = uvloop\nawaitest_virtual_time = true\n")
        marker = ""
    else:
        marker = '@pytest.mark.awaitest(virtual_time=True, loop_factory="uvloop")'
    pytester.makepyfile(
        test_fast=f"""
        import asyncio
        import pathlib

        import pytest


        {marker}
        async def test_on_uvloop():
            pathlib.Path("log.txt").write_text("ran")
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_on_uvloop _*",
            "test_fast.py::test_on_uvloop: uvloop loops cannot run on virtual time: uvloop keeps "
            "its clock and timers in C, with no hook to replace them. Use the asyncio loop for "
            'this test (loop_factory="asyncio") or turn virtual time off (virtual_time=False).',
        ]
    )
    assert not (pytester.path / "log.txt").exists()


def test_virtual_time_marker_value_must_be_a_bool(pytester: pytest.Pytester, run: Run) -> None:
    """virtual_time="yes" is a setup error; the other tests run."""
    pytester.makepyfile(
        test_yes="""
        import pytest


        @pytest.mark.awaitest(virtual_time="yes")
        async def test_yes():
            pass


        async def test_other():
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_yes _*",
            "test_yes.py::test_yes: @pytest.mark.awaitest(virtual_time='yes') must be True or "
            "False.",
        ]
    )


def test_virtual_time_ini_value_must_be_a_bool(pytester: pytest.Pytester, run: Run) -> None:
    """A value that is not true or false stops the run with a message naming the key."""
    pytester.makeini("[pytest]\nawaitest_virtual_time = maybe\n")
    pytester.makepyfile(test_any="async def test_any(): ...")
    result = run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: awaitest_virtual_time: *'maybe'*"])
