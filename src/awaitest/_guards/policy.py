"""Which guards fail a test, which warn, and which are off.

A policy is written as a preset optionally followed by per-guard levels,
the same way in the ini file, on the command line and in a marker:

    awaitest_guards = default
    awaitest_guards = strict blocking=warn
    @pytest.mark.awaitest(guards="leaked_tasks=off")

A marker's preset replaces the session's; its per-guard levels override
single guards. Nothing here imports pytest.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Final

from .._errors import ConfigError


class Guard(str, enum.Enum):
    """The mistakes awaitest watches for."""

    NEVER_AWAITED = "never_awaited"
    """A coroutine created and dropped without being awaited."""
    TASK_ERRORS = "task_errors"
    """An exception nobody retrieved: a crashed task, a failing callback."""
    LEAKED_TASKS = "leaked_tasks"
    """Tasks a test started and left running."""
    UNCLOSED = "unclosed"
    """Transports, sockets, servers and async generators left open."""
    BLOCKING = "blocking"
    """Sync code blocking the event loop longer than the threshold."""
    MISUSE = "misuse"
    """Markers and async functions that cannot work as written."""


class Level(str, enum.Enum):
    """What a guard does when it finds something."""

    ERROR = "error"
    """Fail the test (an error if it happened in a fixture)."""
    WARN = "warn"
    """Emit an `AwaitestWarning` attributed to the test."""
    OFF = "off"
    """Do not look."""


PRESETS: Final[Mapping[str, Mapping[Guard, Level]]] = {
    # Guards 1, 2 and 6 find bugs, always; the others find what healthy suites sometimes do
    # on purpose (a server task left for the loop to cancel), so they warn.
    "default": {
        Guard.NEVER_AWAITED: Level.ERROR,
        Guard.TASK_ERRORS: Level.ERROR,
        Guard.LEAKED_TASKS: Level.WARN,
        Guard.UNCLOSED: Level.WARN,
        Guard.BLOCKING: Level.WARN,
        Guard.MISUSE: Level.ERROR,
    },
    "strict": dict.fromkeys(Guard, Level.ERROR),
    "off": dict.fromkeys(Guard, Level.OFF),
}

_GUARD_NAMES: Final = ", ".join(g.value for g in Guard)
_LEVEL_NAMES: Final = ", ".join(level.value for level in Level)


@dataclasses.dataclass(frozen=True)
class GuardPolicy:
    """The level of every guard.

    Attributes:
        levels: Each guard's level, in `Guard` order.
    """

    levels: tuple[Level, ...] = tuple(PRESETS["default"].values())

    def level(self, guard: Guard) -> Level:
        """Return the level of one guard."""
        return self.levels[_INDEX[guard]]

    def enabled(self, guard: Guard) -> bool:
        """Whether the guard looks at all."""
        return self.levels[_INDEX[guard]] is not Level.OFF

    @property
    def any_enabled(self) -> bool:
        """Whether any guard looks."""
        return any(level is not Level.OFF for level in self.levels)

    def describe(self) -> str:
        """Return the policy as it would be written in the ini file."""
        for name, preset in PRESETS.items():
            if self.levels == tuple(preset.values()):
                return name
        base = PRESETS["default"]
        changed = [
            f"{guard.value}={level.value}"
            for guard, level in zip(Guard, self.levels, strict=True)
            if base[guard] is not level
        ]
        return " ".join(["default", *changed])

    def updated(self, value: object, where: str) -> GuardPolicy:
        """Return this policy changed by a written policy.

        Args:
            value: A preset, `guard=level` entries, or both, space- or
                comma-separated (e.g. "strict blocking=warn"); or a mapping
                of guard names to levels.
            where: Where the value was written, for messages.

        Returns:
            The new policy.

        Raises:
            ConfigError: A word is not a preset, a guard or a level.
        """
        levels = dict(zip(Guard, self.levels, strict=True))
        if isinstance(value, Mapping):
            entries = [(str(k), str(v)) for k, v in value.items()]
        elif isinstance(value, str):
            entries = []
            for word in value.replace(",", " ").split():
                name, sep, level = word.partition("=")
                if not sep:
                    if name not in PRESETS:
                        msg = (
                            f"{where}: {name!r} is not a guard preset; expected one of: "
                            f"{', '.join(PRESETS)}, or guard=level with guards {_GUARD_NAMES}."
                        )
                        raise ConfigError(msg)
                    if entries:
                        msg = (
                            f"{where}: the preset {name!r} must come first "
                            f"(e.g. '{name} {entries[0][0]}={entries[0][1]}')."
                        )
                        raise ConfigError(msg)
                    levels = dict(PRESETS[name])
                    continue
                entries.append((name, level))
        else:
            msg = (
                f"{where}: guards must be a string like 'strict' or 'leaked_tasks=off', or a "
                f"dict of guard names to levels; got {value!r}."
            )
            raise ConfigError(msg)
        for name, level in entries:
            levels[_guard(name, where)] = _level(name, level, where)
        return GuardPolicy(tuple(levels[guard] for guard in Guard))

    @classmethod
    def parse(cls, value: str | None, where: str) -> GuardPolicy:
        """Parse `awaitest_guards` / `--awaitest-guards` (None or empty: the default).

        Raises:
            ConfigError: A word is not a preset, a guard or a level.
        """
        if not value or not value.strip():
            return cls()
        return cls().updated(value, where)


_INDEX: Final = {guard: i for i, guard in enumerate(Guard)}


def _guard(name: str, where: str) -> Guard:
    try:
        return Guard(name)
    except ValueError:
        msg = f"{where}: unknown guard {name!r}; the guards are: {_GUARD_NAMES}."
        raise ConfigError(msg) from None


def _level(name: str, level: str, where: str) -> Level:
    try:
        return Level(level)
    except ValueError:
        msg = f"{where}: {name}={level!r} is not a level; expected one of: {_LEVEL_NAMES}."
        raise ConfigError(msg) from None
