"""Settings: ini keys, command-line options and marker arguments, validated.

`Settings.parse` turns the raw values pytest hands over into one frozen
`Settings`; `MarkerOptions.parse` does the same for one test's
`@pytest.mark.awaitest(...)`. Every bad value raises `ConfigError` with a
message that names the key, the value, what is allowed and where to change
it. Nothing here imports pytest: the plugin reads the raw values and passes
them in.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Final

from . import _loops, _scope
from ._errors import ConfigError
from ._guards.policy import GuardPolicy


class Mode(str, enum.Enum):
    """Which async tests and fixtures awaitest runs."""

    AUTO = "auto"
    """Every `async def` test and fixture (the default)."""
    STRICT = "strict"
    """Only tests marked `awaitest` and fixtures made with `awaitest.fixture`."""


#: How many opted-in tests run at once unless `awaitest_max_concurrency` says otherwise.
DEFAULT_MAX_CONCURRENCY: Final = 100

#: The value of `awaitest_default_loop_scope` that lets awaitest choose.
AUTO_SCOPE: Final = "auto"


def _choice(key: str, value: str, allowed: Sequence[str], where: str) -> str:
    value = value.strip()
    if value not in allowed:
        msg = (
            f"{key}: invalid value {value!r}; expected one of: {', '.join(allowed)} "
            f"(set it {where})."
        )
        raise ConfigError(msg)
    return value


@dataclasses.dataclass(frozen=True)
class Settings:
    """Session-wide settings, after the command line has overridden the ini file.

    Attributes:
        mode: Which tests and fixtures awaitest runs.
        default_loop_scope: Loop scope for tests and fixtures that do not set
            one, or None to let awaitest choose ("auto").
        loop_factories: The loop implementations every async test runs on;
            more than one parametrizes each test.
        compat_fixture_loop_scope: pytest-asyncio's
            `asyncio_default_fixture_loop_scope` (a scope or "fixture-scope").
        compat_test_loop_scope: pytest-asyncio's `asyncio_default_test_loop_scope`.
        debug: Run loops in asyncio debug mode (`asyncio_debug`).
        guards: What each guard does (`awaitest_guards`).
        blocking_threshold: How long sync code may hold the loop, in seconds
            (`awaitest_blocking_threshold`).
        timeout: The default timeout of every test, in seconds, or None.
        timeout_source: Where `timeout` was set, for messages.
        virtual_time: Run async tests on virtual time (`awaitest_virtual_time`).
        concurrent: Run async tests concurrently (`awaitest_concurrent`).
        max_concurrency: How many concurrent tests run at once
            (`awaitest_max_concurrency`).
        unsafe_fixtures: Fixtures a project declared unsafe to share between
            concurrently running tests (`awaitest_unsafe_fixtures`).
    """

    mode: Mode = Mode.AUTO
    default_loop_scope: str | None = None
    loop_factories: tuple[_loops.LoopFactory, ...] = (_loops.DEFAULT,)
    compat_fixture_loop_scope: str | None = None
    compat_test_loop_scope: str | None = None
    debug: bool = False
    guards: GuardPolicy = dataclasses.field(default_factory=GuardPolicy)
    blocking_threshold: float = 0.1
    timeout: float | None = None
    timeout_source: str = ""
    virtual_time: bool = False
    concurrent: bool = False
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    unsafe_fixtures: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        *,
        mode: str | None,
        default_loop_scope: str | None,
        loop_factory: Sequence[str] | None,
        guards: tuple[str, str] | None = None,
        blocking_threshold: str | None = None,
        timeout: tuple[str, str] | None = None,
        virtual_time: bool = False,
        concurrent: bool = False,
        max_concurrency: str | None = None,
        unsafe_fixtures: Sequence[str] = (),
    ) -> Settings:
        """Validate raw setting values.

        Args:
            mode: `awaitest_mode` / `--awaitest-mode`, or None if unset.
            default_loop_scope: `awaitest_default_loop_scope`, or None.
            loop_factory: `awaitest_loop_factory` entries, or None/empty.
            guards: `awaitest_guards` / `--awaitest-guards` and which one, or None.
            blocking_threshold: `awaitest_blocking_threshold`, or None.
            timeout: The timeout and where it was set (e.g. "--timeout"), or None.
            virtual_time: `awaitest_virtual_time`.
            concurrent: `awaitest_concurrent`.
            max_concurrency: `awaitest_max_concurrency`, or None.
            unsafe_fixtures: `awaitest_unsafe_fixtures` entries.

        Returns:
            The settings.

        Raises:
            ConfigError: A value is not allowed.
        """
        where = "in the ini file or with --awaitest-mode"
        parsed_mode = Mode(_choice("awaitest_mode", mode or "auto", [m.value for m in Mode], where))
        scope = _choice(
            "awaitest_default_loop_scope",
            default_loop_scope or AUTO_SCOPE,
            [AUTO_SCOPE, *_scope.LOOP_SCOPES],
            "in the ini file",
        )
        factories = (
            _loops.parse_many(list(loop_factory), "awaitest_loop_factory")
            if loop_factory
            else (_loops.DEFAULT,)
        )
        threshold = 0.1
        if blocking_threshold:
            threshold = parse_seconds(blocking_threshold, "awaitest_blocking_threshold")
            if threshold == 0:
                msg = (
                    "awaitest_blocking_threshold: must be more than 0 seconds; to stop "
                    "watching for blocking calls set awaitest_guards = blocking=off."
                )
                raise ConfigError(msg)
        seconds, source = None, ""
        if timeout is not None:
            seconds, source = parse_seconds(timeout[0], timeout[1]) or None, timeout[1]
        return cls(
            mode=parsed_mode,
            default_loop_scope=None if scope == AUTO_SCOPE else scope,
            loop_factories=factories,
            guards=GuardPolicy.parse(*guards) if guards else GuardPolicy(),
            blocking_threshold=threshold,
            timeout=seconds,
            timeout_source=source,
            virtual_time=virtual_time,
            concurrent=concurrent,
            max_concurrency=_parse_max_concurrency(max_concurrency),
            unsafe_fixtures=tuple(unsafe_fixtures),
        )


def _parse_max_concurrency(value: str | None) -> int:
    if value is None or not str(value).strip():
        return DEFAULT_MAX_CONCURRENCY
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number < 1:
        msg = (
            f"awaitest_max_concurrency: invalid value {value!r}; expected a whole number of "
            f"tests, 1 or more (default {DEFAULT_MAX_CONCURRENCY}; set it in the ini file)."
        )
        raise ConfigError(msg)
    return number


def parse_bool(value: object, where: str) -> bool:
    """Parse an ini boolean (true/false, yes/no, on/off, 1/0; unset: False).

    Raises:
        ConfigError: Not one of those.
    """
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    msg = f"{where}: invalid value {value!r}; expected true or false."
    raise ConfigError(msg)


def parse_seconds(value: object, where: str) -> float:
    """Parse a number of seconds (0 or more) given as a number or a string.

    Raises:
        ConfigError: Not a number, or negative.
    """
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not seconds >= 0 or seconds == float("inf"):
        msg = f"{where}: {value!r} is not a number of seconds; write e.g. 10 or 0.5 (0: no limit)."
        raise ConfigError(msg)
    return seconds


#: Marker arguments this version understands, and the ones later features add.
MARKER_KEYS: Final = (
    "loop_scope",
    "loop_factory",
    "guards",
    "timeout",
    "virtual_time",
    "concurrent",
)
#: Keys only the `asyncio` marker sets (translated by `_compat.pytest_asyncio`).
_INTERNAL_KEYS: Final = ("factory_names",)


@dataclasses.dataclass(frozen=True)
class MarkerOptions:
    """The per-test options carried by `@pytest.mark.awaitest(...)`.

    Attributes:
        marked: Whether the test carries the marker at all.
        loop_scope: The loop scope the test asked for, or None.
        loop_factories: The loop implementations the test asked for, or None.
        factory_names: `mark.asyncio(loop_factories=...)`: names among the
            `pytest_asyncio_loop_factories` hook's factories, or None.
        guards: The guard levels the test sets (validated; applied over the
            session's policy by `policy`), or None.
        timeout: The test's timeout in seconds (0: none), or None.
        virtual_time: Whether the test runs on virtual time, or None (the
            session's `awaitest_virtual_time`).
        concurrent: Whether the test may run concurrently with others, or None
            (the session's `awaitest_concurrent`).
    """

    marked: bool = False
    loop_scope: str | None = None
    loop_factories: tuple[_loops.LoopFactory, ...] | None = None
    factory_names: tuple[str, ...] | None = None
    guards: object = None
    timeout: float | None = None
    virtual_time: bool | None = None
    concurrent: bool | None = None

    def policy(self, session: GuardPolicy) -> GuardPolicy:
        """Return the guard policy for the test: the session's, changed by the marker."""
        if self.guards is None:
            return session
        return session.updated(self.guards, "@pytest.mark.awaitest(guards=...)")

    @property
    def loop_keys(self) -> bool:
        """Whether the marker sets anything only an async test can use."""
        return (
            self.loop_scope is not None
            or self.loop_factories is not None
            or self.virtual_time is not None
            or self.concurrent is not None
        )

    @classmethod
    def parse(
        cls, args: Sequence[object], kwargs: Mapping[str, object], where: str
    ) -> MarkerOptions:
        """Validate the arguments of one `awaitest` marker.

        Args:
            args: Positional marker arguments (none are allowed).
            kwargs: Keyword marker arguments.
            where: The test the marker is on, for messages.

        Returns:
            The options.

        Raises:
            ConfigError: An argument is unknown or has a bad value.
        """
        if args:
            msg = (
                f"{where}: @pytest.mark.awaitest takes keyword arguments only, "
                f"got {', '.join(map(repr, args))}; write e.g. "
                "@pytest.mark.awaitest(loop_scope='module')."
            )
            raise ConfigError(msg)
        unknown = sorted(set(kwargs) - set(MARKER_KEYS) - set(_INTERNAL_KEYS))
        if unknown:
            msg = (
                f"{where}: @pytest.mark.awaitest got unknown argument(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(MARKER_KEYS)}."
            )
            raise ConfigError(msg)
        loop_scope = kwargs.get("loop_scope")
        if loop_scope is not None and not _scope.is_scope(loop_scope):
            msg = (
                f"{where}: @pytest.mark.awaitest(loop_scope={loop_scope!r}) is not a loop scope; "
                f"expected one of: {', '.join(_scope.LOOP_SCOPES)}."
            )
            raise ConfigError(msg)
        factory = kwargs.get("loop_factory")
        factories = (
            None
            if factory is None
            else _loops.parse_many(factory, f"{where}: @pytest.mark.awaitest(loop_factory=...)")
        )
        names = kwargs.get("factory_names")
        guards = kwargs.get("guards")
        if guards is not None:
            GuardPolicy().updated(guards, f"{where}: @pytest.mark.awaitest(guards=...)")
        timeout = kwargs.get("timeout")
        virtual_time = kwargs.get("virtual_time")
        if virtual_time is not None and not isinstance(virtual_time, bool):
            msg = (
                f"{where}: @pytest.mark.awaitest(virtual_time={virtual_time!r}) must be True "
                "or False."
            )
            raise ConfigError(msg)
        concurrent = kwargs.get("concurrent")
        if concurrent is not None and not isinstance(concurrent, bool):
            msg = (
                f"{where}: @pytest.mark.awaitest(concurrent={concurrent!r}) must be True or False."
            )
            raise ConfigError(msg)
        if concurrent and loop_scope == "function":
            msg = (
                f"{where}: @pytest.mark.awaitest(concurrent=True, loop_scope='function') "
                "contradicts itself: concurrent tests run together on the loop of their module "
                "or class. Remove loop_scope, or concurrent."
            )
            raise ConfigError(msg)
        return cls(
            marked=True,
            loop_scope=loop_scope,
            loop_factories=factories,
            factory_names=tuple(names) if isinstance(names, tuple) else None,
            guards=guards,
            timeout=None
            if timeout is None
            else parse_seconds(timeout, f"{where}: @pytest.mark.awaitest(timeout=...)"),
            virtual_time=virtual_time,
            concurrent=concurrent,
        )
