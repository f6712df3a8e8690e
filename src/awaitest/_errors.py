"""The exceptions awaitest raises.

Every exception derives from `AwaitestError` and from the builtin that fits
it, so callers can catch either. They report themselves as `awaitest.X`,
the name users import them by. Nothing here imports pytest.
"""

from __future__ import annotations


class AwaitestError(Exception):
    """Base class of every error awaitest raises."""

    __module__ = "awaitest"


class ConfigError(AwaitestError, ValueError):
    """A setting (ini key, command-line option or marker argument) has a bad value."""

    __module__ = "awaitest"


class FixtureError(AwaitestError, RuntimeError):
    """An async fixture was written or used in a way awaitest cannot run."""

    __module__ = "awaitest"


class FixtureCrashedError(AwaitestError, RuntimeError):
    """An async fixture's own task failed while a test was using the fixture.

    Attributes:
        fixture_exception: What the fixture's task raised (None if it was cancelled).
    """

    __module__ = "awaitest"
    fixture_exception: BaseException | None = None


class LoopMismatchError(AwaitestError, RuntimeError):
    """A test used an object bound to an event loop other than the one it runs on."""

    __module__ = "awaitest"


class DeadlineError(AwaitestError, TimeoutError):
    """A test or async fixture ran past its timeout, and was cancelled."""

    __module__ = "awaitest"


class AwaitestWarning(UserWarning):
    """A guard found something worth a look (a leaked task, a blocked loop).

    Filter it like any warning, e.g. `filterwarnings = error::awaitest.AwaitestWarning`.
    """

    __module__ = "awaitest"
