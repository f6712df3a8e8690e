"""Free localhost ports for servers started by tests.

`unused_port` asks the OS for a port that is free right now; `PortFactory`
hands out ports it has never handed out before, so a test can start several
servers. These back the `unused_tcp_port` / `unused_udp_port` fixtures and
their `_factory` variants (names from pytest-asyncio). Nothing here imports
pytest.
"""

from __future__ import annotations

import contextlib
import socket


def unused_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """Return a localhost port that no socket of this kind is bound to.

    Args:
        kind: `socket.SOCK_STREAM` (TCP) or `socket.SOCK_DGRAM` (UDP).

    Returns:
        The port. Another process may still take it before the test binds it.
    """
    with contextlib.closing(socket.socket(type=kind)) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PortFactory:
    """Hands out free localhost ports, never the same one twice.

    Args:
        kind: `socket.SOCK_STREAM` (TCP) or `socket.SOCK_DGRAM` (UDP).
    """

    def __init__(self, kind: socket.SocketKind) -> None:
        self._kind = kind
        self._given: set[int] = set()

    def __call__(self) -> int:
        """Return a free port this factory has not returned before."""
        port = unused_port(self._kind)
        while port in self._given:
            port = unused_port(self._kind)
        self._given.add(port)
        return port
