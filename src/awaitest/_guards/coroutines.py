"""Guard 1: coroutines created and dropped without being awaited.

CPython reports such a coroutine, when it is finalized, through
`warnings._warn_unawaited_coroutine(coro)`; awaitest replaces that function
while it runs, so it gets the coroutine itself (its name, and with origin
tracking on, where it was created) and records it against the test phase
running at that moment. Outside a test phase, and for tests with the guard
off, Python's own RuntimeWarning is issued as before.
"""

from __future__ import annotations

import gc
import inspect
import linecache
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any

from .. import _stacks
from .findings import Recorder
from .policy import Guard

_FIX = "Add 'await', or wrap it in asyncio.create_task() and keep a reference to the task."


def describe(coro: Any) -> str:
    """Return the message for a coroutine that was never awaited."""
    frame = getattr(coro, "cr_frame", None)
    mock = frame.f_locals.get("self") if frame is not None else None
    created = _stacks.coroutine_origin(coro)
    where = f" (at {created})" if created is not None else ""
    if mock is not None and type(mock).__name__ == "AsyncMock":
        name = mock._extract_mock_name()
        return (
            f"the AsyncMock {name!r} was called{where} but the coroutine it returned was "
            f"never awaited, so the call did nothing. {_FIX}"
        )
    name = getattr(coro, "__qualname__", None) or repr(coro)
    if created is None:
        defined = _stacks.coroutine_definition(coro)
        where = f" (defined at {defined})" if defined is not None else ""
    return f"the coroutine {name!r} was created but never awaited{where}. {_FIX}"


class NeverAwaited:
    """Routes Python's never-awaited-coroutine report to the recorder."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._original: Callable[[Any], None] | None = None
        self._depth = 0
        #: Coroutines found outside any test phase (freed late, e.g. with a failed
        #: test's traceback), for the end-of-run summary.
        self.late: list[str] = []
        #: ids of unstarted coroutines a failed phase's traceback holds: when they are
        #: freed, in whichever later test, they are that failure's echo, not a new bug.
        self._excused: set[int] = set()

    def excuse(self, exc: BaseException) -> None:
        """Excuse the unstarted coroutines in the frames of a failure's traceback."""
        tb = exc.__traceback__
        while tb is not None:
            for value in tb.tb_frame.f_locals.values():
                if inspect.iscoroutine(value) and (
                    inspect.getcoroutinestate(value) == inspect.CORO_CREATED
                ):
                    self._excused.add(id(value))
            tb = tb.tb_next

    def install(self, *, track_origins: bool = True) -> None:
        """Take over the report, and (if `track_origins`) track where coroutines are created."""
        self._original = getattr(warnings, "_warn_unawaited_coroutine", None)
        warnings._warn_unawaited_coroutine = self._finalized  # type: ignore[attr-defined]
        if track_origins:
            self._depth = _stacks.set_origin_depth(_stacks.ORIGIN_DEPTH)
        else:
            self._depth = sys.get_coroutine_origin_tracking_depth()

    def uninstall(self) -> None:
        """Give the report back to Python, once excused coroutines are freed."""
        if self._excused:
            # pytest keeps the last failure in sys.last_*: free its excused coroutines now,
            # while they can still be recognized, not at interpreter exit.
            for name in ("last_exc", "last_value", "last_traceback", "last_type"):
                if hasattr(sys, name):
                    setattr(sys, name, None)
            gc.collect()
        if self._original is not None:
            warnings._warn_unawaited_coroutine = self._original  # type: ignore[attr-defined]
        sys.set_coroutine_origin_tracking_depth(self._depth)

    def _finalized(self, coro: Any) -> None:
        if self._excused and id(coro) in self._excused:
            self._excused.discard(id(coro))
            return
        recorder = self._recorder
        if recorder.who is not None and recorder.wants(Guard.NEVER_AWAITED):
            recorder.add(Guard.NEVER_AWAITED, describe(coro))
        elif recorder.who is None and recorder.session_policy.enabled(Guard.NEVER_AWAITED):
            self.late.append(describe(coro))
        else:
            self._python_warning(coro)

    def _python_warning(self, coro: Any) -> None:
        """Python's own RuntimeWarning, as `warnings._warn_unawaited_coroutine` words it.

        Issued from here with one more stack level, so it still points at the code
        that dropped the coroutine; the creation site is shown only if the project
        itself asked for origin tracking.
        """
        lines = [f"coroutine '{coro.__qualname__}' was never awaited\n"]
        origin = getattr(coro, "cr_origin", None)
        if origin and self._depth:
            extracted = [
                (filename, lineno, name, linecache.getline(filename, lineno))
                for filename, lineno, name in reversed(origin[: self._depth])
            ]
            lines.append("Coroutine created at (most recent call last)\n")
            lines.extend(traceback.format_list(extracted))
        msg = "".join(lines).rstrip("\n")
        warnings.warn(msg, category=RuntimeWarning, stacklevel=3, source=coro)
