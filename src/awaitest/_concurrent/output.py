"""Each concurrent test's printed output, log records and warnings, kept apart.

pytest captures stdout, stderr and log records for the one test that runs:
a phase starts capturing, and its end reads what was captured. Concurrent
tests print from the event loop while none of their phases is "running",
so `Separation` keeps one pending buffer per test: while the loop runs,
`sys.stdout`/`sys.stderr` are routers that file each write under the test
whose task made it (`owner`); when a test's turn begins its buffer goes into
pytest's capture, and when the turn ends what pytest captured goes back to
the buffer. Each test also has its own log-section handler, which only
accepts its own test's records, and its own warning filters and record
(pytest's warnings plugin runs around each test's protocol); a warning
raised while the loop runs is recorded with the test whose task raised it.

What cannot be separated: output written below Python (C code, subprocesses
inheriting the file descriptors) while tests overlap, and writes from other
threads the tests start. A warning raised on the loop is filtered with the
filters of the test whose `pytest_runtest_protocol` call drives the loop.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import pytest

from .._compat import protocol as _protocol
from .fibers import Fiber, Slot


class _Router:
    """A stand-in for sys.stdout or sys.stderr while the loop runs the tests' tasks."""

    def __init__(self, fallback: TextIO, index: int, owner: Callable[[], Fiber | None]) -> None:
        self._fallback = fallback
        self._index = index
        self._owner = owner

    def write(self, text: str) -> int:
        fiber = self._owner()
        if fiber is None:
            return self._fallback.write(text)
        fiber.pending[self._index].append(text)
        return len(text)

    def flush(self) -> None:
        fiber = self._owner()
        if fiber is None:
            self._fallback.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fallback, name)


class _WarningsSlot(Slot):
    """A `warnings` module attribute each test has its own value of."""

    __slots__ = ()

    def set(self, value: object) -> None:
        super().set(value)
        mutated = getattr(warnings, "_filters_mutated", None)
        if mutated is not None:
            mutated()  # forget which warnings were already shown under other filters


_WARNING_STATE = ("filters", "showwarning", "_showwarnmsg_impl")


class _OwnRecords(logging.Filter):
    """Accepts the records of the test whose log-section handler it guards."""

    def __init__(self, handler: logging.Handler, index: int, owner: Callable[[], Fiber | None]):
        super().__init__()
        self._handler = handler
        self._index = index
        self._owner = owner

    def filter(self, record: logging.LogRecord) -> bool:
        fiber = self._owner()
        return fiber is not None and fiber.value(self._index) is self._handler


class Separation:
    """Keeps concurrent tests' output and log records apart (see the module docstring)."""

    def __init__(self, config: pytest.Config, owner: Callable[[], Fiber | None]) -> None:
        self._config = config
        self._owner = owner
        self._files = _protocol.capture_files(config)
        self._saved: tuple[TextIO, TextIO] | None = None
        self._warnings_index = -1

    def slots(self, first_index: int) -> list[Slot]:
        """The attributes each test has its own value of; `first_index` is where they start."""
        slots: list[Slot] = []
        if self._files is not None:
            out, err = sys.stdout, sys.stderr
            slots += [Slot(sys, "stdout", lambda: out), Slot(sys, "stderr", lambda: err)]
        found = _protocol.log_report_handler_slot(self._config)
        if found is not None:
            plugin, attr, make = found
            index = first_index + len(slots)
            owner = self._owner

            def handler() -> logging.Handler:
                new: logging.Handler = make()
                new.addFilter(_OwnRecords(new, index, owner))
                return new

            slots.append(Slot(plugin, attr, handler))
        self._warnings_index = first_index + len(slots) + _WARNING_STATE.index("_showwarnmsg_impl")
        for name in _WARNING_STATE:
            value = getattr(warnings, name)
            initial = (lambda v=value: list(v)) if name == "filters" else (lambda v=value: v)
            slots.append(_WarningsSlot(warnings, name, initial))
        return slots

    @contextlib.contextmanager
    def warnings_routed(self) -> Iterator[None]:
        """While the loop runs here: record each warning with the test whose task raised it.

        Entered anew for each `pytest_runtest_protocol` call: pytest's warnings
        plugin puts its own recorder in place around every one.
        """
        index = self._warnings_index
        fallback = getattr(warnings, "_showwarnmsg_impl", None)
        if fallback is None or index < 0:
            yield
            return

        def route(message: warnings.WarningMessage) -> None:
            fiber = self._owner()
            show = fiber.value(index) if fiber is not None else fallback
            show(message)

        warnings._showwarnmsg_impl = route  # type: ignore[attr-defined]
        try:
            yield
        finally:
            warnings._showwarnmsg_impl = fallback  # type: ignore[attr-defined]

    def enter(self) -> None:
        """Route the loop's writes to the tests (only if pytest captures output)."""
        if self._files is None:
            return
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _Router(sys.stdout, 0, self._owner)
        sys.stderr = _Router(sys.stderr, 1, self._owner)

    def exit(self) -> None:
        """Undo `enter`."""
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved
            self._saved = None

    def turn_begins(self, fiber: Fiber) -> None:
        """Hand what the test wrote meanwhile to pytest's capture."""
        files = self._files
        if files is None:
            return
        for index, file in enumerate(files):
            pending = fiber.pending[index]
            if pending:
                file.write("".join(pending))
                pending.clear()

    def turn_ends(self, fiber: Fiber) -> None:
        """Keep what pytest captured during the turn as the test's own."""
        if self._files is None:
            return
        out, err = _protocol.read_capture(self._config)
        if out:
            fiber.pending[0].append(out)
        if err:
            fiber.pending[1].append(err)
