"""Which async tests and fixtures awaitest runs: auto and strict mode, foreign frameworks.

Every test here proves that a test really ran (an assertion after an await
fails it, or an awaited side effect is observed) or really did not run
(pytest's own "not natively supported" failure), not just that it passed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inner import REC, read_log

Run = Callable[..., pytest.RunResult]

NOT_SUPPORTED = "*async def functions are not natively supported*"


def configure_mode(pytester: pytest.Pytester, how: str, mode: str) -> list[str]:
    """Set awaitest_mode the given way; return the extra command-line arguments."""
    if how == "ini":
        pytester.makeini(f"[pytest]\nawaitest_mode = {mode}\n")
        return []
    if how == "pyproject":
        pytester.makepyprojecttoml(f'[tool.pytest.ini_options]\nawaitest_mode = "{mode}"\n')
        return []
    return [f"--awaitest-mode={mode}"]


# -- async tests run ------------------------------------------------------------------------


def test_failing_assert_after_await_fails_the_test(pytester: pytest.Pytester, run: Run) -> None:
    """An async test really runs: an assertion after an await fails it, a true one passes."""
    pytester.makepyfile(
        """
        import asyncio

        async def test_fails_after_await():
            await asyncio.sleep(0)
            assert 1 + 1 == 3, "reached after the await"

        async def test_passes_after_await():
            await asyncio.sleep(0)
            assert 1 + 1 == 2
        """
    )
    result = run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*AssertionError: reached after the await*", "FAILED *::test_fails_after_await*"]
    )


def test_awaited_side_effects_are_observed(pytester: pytest.Pytester, run: Run) -> None:
    """Work done by tasks the test awaits happens before the test returns."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_effects="""
        import asyncio
        import rec

        async def worker(results):
            await asyncio.sleep(0.01)
            results.append("worked")

        async def test_awaits_a_task():
            results = []
            await asyncio.create_task(worker(results))
            rec.note("after-await", *results)
        """
    )
    result = run()
    result.assert_outcomes(passed=1)
    assert read_log(pytester) == ["after-await worked"]


def test_methods_and_staticmethods_in_classes_run(pytester: pytest.Pytester, run: Run) -> None:
    """Async test methods and async staticmethods of test classes run (and can fail)."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_classes="""
        import asyncio
        import rec

        class TestThings:
            async def test_method(self):
                await asyncio.sleep(0)
                rec.note("method", type(self).__name__)

            @staticmethod
            async def test_static():
                await asyncio.sleep(0)
                rec.note("static")

            async def test_method_fails(self):
                await asyncio.sleep(0)
                assert False, "method body ran"

        class TestNested:
            class TestInner:
                async def test_inner(self):
                    await asyncio.sleep(0)
                    rec.note("inner")
        """
    )
    result = run("-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: method body ran*"])
    assert sorted(read_log(pytester)) == ["inner", "method TestThings", "static"]


def test_parametrized_async_test_runs_every_case(pytester: pytest.Pytester, run: Run) -> None:
    """Each case of a parametrized async test runs with its own argument."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_params="""
        import asyncio
        import pytest
        import rec

        @pytest.mark.parametrize("n", [1, 2, 3])
        async def test_n(n):
            await asyncio.sleep(0)
            rec.note("n", n)
            assert n < 3

        class TestInClass:
            @pytest.mark.parametrize("word", ["a", "b"])
            async def test_word(self, word):
                await asyncio.sleep(0)
                rec.note("word", word)
        """
    )
    result = run("-v")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*test_n[[]3[]] FAILED*"])
    assert sorted(read_log(pytester)) == ["n 1", "n 2", "n 3", "word a", "word b"]


# -- modes ----------------------------------------------------------------------------------


def test_auto_mode_is_the_default(pytester: pytest.Pytester, run: Run) -> None:
    """With no configuration, unmarked async tests and plain async fixtures run."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_auto="""
        import asyncio
        import pytest
        import rec

        @pytest.fixture
        async def answer():
            await asyncio.sleep(0)
            return 42

        async def test_unmarked(answer):
            await asyncio.sleep(0)
            rec.note("unmarked", answer)
        """
    )
    result = run()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["awaitest *: mode=auto, *"])
    assert read_log(pytester) == ["unmarked 42"]


@pytest.mark.parametrize("how", ["ini", "pyproject", "cli"])
def test_strict_mode_runs_only_marked_tests(pytester: pytest.Pytester, run: Run, how: str) -> None:
    """In strict mode (ini, pyproject or CLI) marked async tests run, unmarked ones do not."""
    args = configure_mode(pytester, how, "strict")
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_strict="""
        import asyncio
        import pytest
        import rec

        @pytest.mark.awaitest
        async def test_marked():
            await asyncio.sleep(0)
            rec.note("marked ran")

        async def test_unmarked():
            rec.note("unmarked ran")
        """
    )
    result = run(*args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["awaitest *: mode=strict, *", NOT_SUPPORTED])
    assert read_log(pytester) == ["marked ran"]


def test_strict_mode_marker_on_class_and_module_counts(pytester: pytest.Pytester, run: Run) -> None:
    """In strict mode a class marker or a module pytestmark marks every test under it."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_module_marked="""
        import pytest
        import rec

        pytestmark = pytest.mark.awaitest

        async def test_by_module():
            rec.note("module")
        """,
        test_class_marked="""
        import pytest
        import rec

        @pytest.mark.awaitest
        class TestMarked:
            async def test_by_class(self):
                rec.note("class")
        """,
    )
    result = run("--awaitest-mode=strict")
    result.assert_outcomes(passed=2)
    assert sorted(read_log(pytester)) == ["class", "module"]


def test_strict_mode_runs_awaitest_fixtures_only(pytester: pytest.Pytester, run: Run) -> None:
    """In strict mode awaitest.fixture async fixtures run; plain pytest.fixture ones do not."""
    pytester.makepyfile(
        test_fixtures="""
        import asyncio
        import awaitest
        import pytest

        @awaitest.fixture
        async def ours():
            await asyncio.sleep(0)
            return "ours"

        @pytest.fixture
        async def plain():
            return "plain"

        @pytest.mark.awaitest
        async def test_ours(ours):
            assert ours == "ours"

        @pytest.mark.awaitest
        async def test_plain(plain):
            pass
        """
    )
    result = run("--awaitest-mode=strict")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*'test_plain' requested an async fixture 'plain', with no plugin or hook*"]
    )


@pytest.mark.parametrize(
    ("ini_mode", "cli_mode", "unmarked_runs"),
    [("strict", "auto", True), ("auto", "strict", False)],
)
def test_command_line_mode_overrides_ini(
    pytester: pytest.Pytester, run: Run, ini_mode: str, cli_mode: str, unmarked_runs: bool
) -> None:
    """--awaitest-mode wins over the awaitest_mode ini key."""
    pytester.makeini(f"[pytest]\nawaitest_mode = {ini_mode}\n")
    pytester.makepyfile(
        """
        import asyncio

        async def test_unmarked():
            await asyncio.sleep(0)
        """
    )
    result = run(f"--awaitest-mode={cli_mode}")
    result.stdout.fnmatch_lines([f"awaitest *: mode={cli_mode}, *"])
    if unmarked_runs:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([NOT_SUPPORTED])


# -- other frameworks' tests ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_anyio_tests_and_their_fixtures_are_left_to_anyio(
    pytester: pytest.Pytester, run: Run, mode: str
) -> None:
    """Tests for anyio, and async fixtures only they request, run on anyio's runner."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_anyio="""
        import asyncio
        import pathlib
        import awaitest
        import pytest
        import rec

        def runner():
            # anyio drives tests from its own runner task; awaitest runs the test coroutine itself.
            code = asyncio.current_task().get_coro().cr_code
            return "anyio" if "anyio" in pathlib.Path(code.co_filename).parts else code.co_name

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.fixture
        async def plain_fixture():
            rec.note("plain_fixture", runner())
            return 1

        @awaitest.fixture
        async def awaitest_fixture():
            rec.note("awaitest_fixture", runner())
            return 2

        @pytest.mark.anyio
        async def test_marked(plain_fixture, awaitest_fixture):
            rec.note("test_marked", runner())

        async def test_uses_backend(anyio_backend, plain_fixture):
            rec.note("test_uses_backend", runner())
        """
    )
    result = run(f"--awaitest-mode={mode}")
    result.assert_outcomes(passed=2)
    assert sorted(read_log(pytester)) == [
        "awaitest_fixture anyio",
        "plain_fixture anyio",
        "plain_fixture anyio",
        "test_marked anyio",
        "test_uses_backend anyio",
    ]


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_trio_marked_tests_are_left_alone(pytester: pytest.Pytester, run: Run, mode: str) -> None:
    """A trio-marked async test is not run by awaitest (no trio plugin: pytest fails it)."""
    pytester.makeini("[pytest]\nmarkers =\n    trio: run with trio\n")
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_trio="""
        import pytest
        import rec

        @pytest.mark.trio
        @pytest.mark.awaitest
        async def test_trio():
            rec.note("ran")
        """
    )
    result = run(f"--awaitest-mode={mode}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([NOT_SUPPORTED])
    assert read_log(pytester) == []


def test_awaitest_runs_tests_beside_anyio_tests(pytester: pytest.Pytester, run: Run) -> None:
    """An ordinary async test next to anyio tests still runs on awaitest, not anyio."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_mixed="""
        import asyncio
        import pathlib
        import pytest
        import rec

        @pytest.fixture
        async def shared():
            return "shared"

        @pytest.mark.anyio
        async def test_anyio(shared):
            assert shared == "shared"

        async def test_ours(shared):
            code = asyncio.current_task().get_coro().cr_code
            assert "anyio" not in pathlib.Path(code.co_filename).parts
            rec.note("ours", shared)
        """
    )
    result = run()
    result.assert_outcomes(passed=2)
    assert read_log(pytester) == ["ours shared"]


# -- report header and disabling ------------------------------------------------------------


@pytest.mark.parametrize(
    ("ini", "header"),
    [
        ("", "awaitest 0.1.0: mode=auto, loop=asyncio, loop_scope=auto, guards=default, *"),
        (
            "awaitest_mode = strict\nawaitest_default_loop_scope = module\n",
            "awaitest 0.1.0: mode=strict, loop=asyncio, loop_scope=module, guards=default, *",
        ),
    ],
)
def test_report_header_shows_settings(
    pytester: pytest.Pytester, run: Run, ini: str, header: str
) -> None:
    """The report header names awaitest's version, mode, loop factories and loop scope."""
    pytester.makeini(f"[pytest]\n{ini}")
    pytester.makepyfile("def test_nothing(): pass")
    result = run()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([header])


def test_plugin_loads_from_its_entry_point(pytester: pytest.Pytester) -> None:
    """The pytest11 entry point loads awaitest: async tests run with no -p option."""
    pytester.makepyfile(
        """
        import asyncio

        async def test_runs():
            await asyncio.sleep(0)
            assert False, "ran via the entry point"
        """
    )
    result = pytester.runpytest("-p", "no:asyncio", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["awaitest *: mode=auto, *", "*ran via the entry point*"])


def test_p_no_awaitest_disables_the_plugin(pytester: pytest.Pytester) -> None:
    """With -p no:awaitest, async tests are not run and no awaitest header is printed."""
    pytester.makepyfile(rec=REC)
    pytester.makepyfile(
        test_off="""
        import rec

        async def test_async():
            rec.note("ran")
        """
    )
    result = pytester.runpytest("-p", "no:awaitest", "-p", "no:asyncio", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([NOT_SUPPORTED])
    result.stdout.no_fnmatch_line("awaitest *: mode=*")
    assert read_log(pytester) == []
