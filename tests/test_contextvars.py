"""Context variables flow from fixtures to tests, and never from one test to the next.

A value a fixture sets (sync or async, any scope) is visible to the test and to
fixtures set up after it; a fixture's teardown sees what its setup saw; what a
test sets stays in that test; an async fixture's values are undone at its
teardown.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

Run = Callable[..., pytest.RunResult]

#: Inner-test module shared by every inner test file: the variable and a log helper.
CTX_MODULE = """
import contextvars
import pathlib

VAR = contextvars.ContextVar("VAR", default="unset")

def log(line):
    with pathlib.Path(__file__).with_name("events.log").open("a") as f:
        f.write(line + "\\n")
"""

SETTERS = {
    "sync": """
@pytest.fixture
def setter():
    VAR.set("from-fixture")
""",
    "sync-generator": """
@pytest.fixture
def setter():
    VAR.set("from-fixture")
    yield
""",
    "async-function-coroutine": """
@pytest.fixture
async def setter():
    VAR.set("from-fixture")
""",
    "async-function-generator": """
@pytest.fixture
async def setter():
    VAR.set("from-fixture")
    yield
""",
    "async-session-coroutine": """
@pytest.fixture(scope="session")
async def setter():
    VAR.set("from-fixture")
""",
    "async-session-generator": """
@pytest.fixture(scope="session")
async def setter():
    VAR.set("from-fixture")
    yield
""",
}


def setup_files(pytester: pytest.Pytester, **files: str) -> None:
    """Write the shared ctx module and the given test files."""
    pytester.makepyfile(ctx=CTX_MODULE)
    pytester.makeini("[pytest]\npythonpath = .\n")
    pytester.makepyfile(**files)


def events(pytester: pytest.Pytester) -> list[str]:
    """Return the lines inner tests wrote to events.log."""
    path = pytester.path / "events.log"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("kind", list(SETTERS))
def test_fixture_value_reaches_test_and_later_fixtures(
    pytester: pytest.Pytester, run: Run, kind: str
) -> None:
    """A value set in a fixture is seen by async and sync tests and by fixtures set up after it."""
    setup_files(
        pytester,
        test_flow="import pytest\nfrom ctx import VAR\n"
        + SETTERS[kind]
        + """
@pytest.fixture
def after_sync(setter):
    return VAR.get()

@pytest.fixture
async def after_async(setter):
    return VAR.get()

@pytest.fixture
async def after_async_gen(setter):
    yield VAR.get()

async def test_async(setter, after_sync, after_async, after_async_gen):
    assert VAR.get() == "from-fixture"
    assert (after_sync, after_async, after_async_gen) == ("from-fixture",) * 3

def test_sync(setter, after_sync, after_async, after_async_gen):
    assert VAR.get() == "from-fixture"
    assert (after_sync, after_async, after_async_gen) == ("from-fixture",) * 3
""",
    )
    result = run()
    result.assert_outcomes(passed=2)


def test_session_fixture_value_reaches_tests_in_every_module(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A value set by a session-scoped async fixture is seen by tests in other modules."""
    pytester.makeconftest(
        """
import pytest
from ctx import VAR

@pytest.fixture(scope="session")
async def tenant():
    VAR.set("acme")
    yield
"""
    )
    setup_files(
        pytester,
        test_a="from ctx import VAR\n\nasync def test_a(tenant):\n    assert VAR.get() == 'acme'\n",
        test_b="from ctx import VAR\n\nasync def test_b(tenant):\n    assert VAR.get() == 'acme'\n"
        "\ndef test_b_sync(tenant):\n    assert VAR.get() == 'acme'\n",
    )
    result = run()
    result.assert_outcomes(passed=3)


@pytest.mark.parametrize(
    "fixture",
    [
        pytest.param(
            """
@pytest.fixture
async def watcher():
    VAR.set("setup")
    yield
    log(f"teardown saw {VAR.get()}")
""",
            id="async-function",
        ),
        pytest.param(
            """
@pytest.fixture(scope="session")
async def watcher():
    VAR.set("setup")
    yield
    log(f"teardown saw {VAR.get()}")
""",
            id="async-session",
        ),
        pytest.param(
            """
@pytest.fixture
def watcher():
    VAR.set("setup")
    yield
    log(f"teardown saw {VAR.get()}")
""",
            id="sync-function",
        ),
    ],
)
def test_fixture_teardown_sees_its_setup_values_not_the_tests(
    pytester: pytest.Pytester, run: Run, fixture: str
) -> None:
    """A fixture's teardown sees the value its setup set, not the one the test set."""
    setup_files(
        pytester,
        test_teardown="import pytest\nfrom ctx import VAR, log\n"
        + fixture
        + """
async def test_changes_it(watcher):
    assert VAR.get() == "setup"
    VAR.set("test")
    log(f"test set {VAR.get()}")
""",
    )
    result = run()
    result.assert_outcomes(passed=1, errors=0)
    assert events(pytester) == ["test set test", "teardown saw setup"]


@pytest.mark.parametrize("shared_loop", [False, True], ids=["own-loops", "session-loop"])
def test_value_set_by_a_test_does_not_leak_into_the_next(
    pytester: pytest.Pytester, run: Run, shared_loop: bool
) -> None:
    """A value an async test sets is gone in the next test, even when they share a loop."""
    args = "client" if shared_loop else ""
    setup_files(
        pytester,
        test_leak=f"""
import pytest
from ctx import VAR

@pytest.fixture(scope="session")
async def client():
    return object()

async def test_sets({args}):
    VAR.set("leaked")
    assert VAR.get() == "leaked"

async def test_next_async({args}):
    assert VAR.get() == "unset"

def test_next_sync():
    assert VAR.get() == "unset"
""",
    )
    result = run()
    result.assert_outcomes(passed=3)


@pytest.mark.parametrize("kind", ["coroutine", "generator"])
def test_function_fixture_value_does_not_leak_into_a_later_test(
    pytester: pytest.Pytester, run: Run, kind: str
) -> None:
    """A function-scoped async fixture's value is undone before tests that do not use it."""
    body = 'VAR.set("fixture")' + ("\n    yield" if kind == "generator" else "")
    setup_files(
        pytester,
        test_undo=f"""
import pytest
from ctx import VAR

@pytest.fixture
async def setter():
    {body}

async def test_uses(setter):
    assert VAR.get() == "fixture"

async def test_later_async():
    assert VAR.get() == "unset"

def test_later_sync():
    assert VAR.get() == "unset"
""",
    )
    result = run()
    result.assert_outcomes(passed=3)


def test_module_fixture_value_is_undone_at_module_end(pytester: pytest.Pytester, run: Run) -> None:
    """A module-scoped async fixture's value is gone in the next module's tests."""
    setup_files(
        pytester,
        test_a="""
import pytest
from ctx import VAR

@pytest.fixture(scope="module")
async def setter():
    VAR.set("module-a")
    yield

async def test_a1(setter):
    assert VAR.get() == "module-a"

def test_a2(setter):
    assert VAR.get() == "module-a"
""",
        test_b="""
from ctx import VAR

async def test_b_async():
    assert VAR.get() == "unset"

def test_b_sync():
    assert VAR.get() == "unset"
""",
    )
    result = run()
    result.assert_outcomes(passed=4)


def test_narrower_fixture_override_is_undone_back_to_the_wider_value(
    pytester: pytest.Pytester, run: Run
) -> None:
    """A function fixture overriding a session fixture's value is undone; the next test sees it."""
    setup_files(
        pytester,
        test_layers="""
import pytest
from ctx import VAR

@pytest.fixture(scope="session")
async def outer():
    VAR.set("session")
    yield

@pytest.fixture
async def inner(outer):
    assert VAR.get() == "session"
    VAR.set("function")
    yield

async def test_first(outer, inner):
    assert VAR.get() == "function"

async def test_second(outer):
    assert VAR.get() == "session"

def test_third_sync(outer):
    assert VAR.get() == "session"
""",
    )
    result = run()
    result.assert_outcomes(passed=3)
