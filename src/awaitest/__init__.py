"""awaitest: async tests and fixtures for pytest that just work.

Install it and `async def` tests and fixtures run on asyncio, with no
configuration. The public API is small: `fixture` (for strict mode and
explicit loop scopes), the exceptions, and the version.
"""

from __future__ import annotations

from ._clock import VirtualClock as VirtualClock
from ._errors import AwaitestError as AwaitestError
from ._errors import AwaitestWarning as AwaitestWarning
from ._errors import ConfigError as ConfigError
from ._errors import DeadlineError as DeadlineError
from ._errors import FixtureCrashedError as FixtureCrashedError
from ._errors import FixtureError as FixtureError
from ._errors import LoopMismatchError as LoopMismatchError
from ._fixtures import fixture as fixture
from ._version import __version__ as __version__

__all__ = [
    "AwaitestError",
    "AwaitestWarning",
    "ConfigError",
    "DeadlineError",
    "FixtureCrashedError",
    "FixtureError",
    "LoopMismatchError",
    "VirtualClock",
    "__version__",
    "fixture",
]
