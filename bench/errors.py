"""The one exception of the benchmark command: a problem the user can fix, with its message."""

from __future__ import annotations


class BenchError(Exception):
    """A bad option or a broken environment; `python -m bench` prints it and exits with 2."""
