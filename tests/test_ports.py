"""Free localhost ports: the unused_*_port fixtures (names from pytest-asyncio) and `_ports`.

The fixtures are tested black-box (inner tests bind the ports they get); the
pure logic in `awaitest._ports` is tested directly.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterator

import pytest

from awaitest import _ports

Run = Callable[..., pytest.RunResult]

KINDS = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


# -- the fixtures ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_unused_port_can_be_bound(pytester: pytest.Pytester, run: Run, kind: str) -> None:
    """unused_tcp_port / unused_udp_port give a localhost port a socket of that kind can bind."""
    sock_type = "SOCK_STREAM" if kind == "tcp" else "SOCK_DGRAM"
    pytester.makepyfile(
        f"""
        import socket

        def test_sync(unused_{kind}_port):
            with socket.socket(type=socket.{sock_type}) as sock:
                sock.bind(("127.0.0.1", unused_{kind}_port))

        async def test_async(unused_{kind}_port):
            assert isinstance(unused_{kind}_port, int) and unused_{kind}_port > 0
            with socket.socket(type=socket.{sock_type}) as sock:
                sock.bind(("127.0.0.1", unused_{kind}_port))
        """
    )
    result = run()
    result.assert_outcomes(passed=2)


def test_tcp_port_serves_an_asyncio_server(pytester: pytest.Pytester, run: Run) -> None:
    """An asyncio server started on unused_tcp_port answers a client on that port."""
    pytester.makepyfile(
        """
        import asyncio

        async def test_echo(unused_tcp_port):
            async def echo(reader, writer):
                writer.write(await reader.readline())
                await writer.drain()
                writer.close()

            server = await asyncio.start_server(echo, "127.0.0.1", unused_tcp_port)
            async with server:
                reader, writer = await asyncio.open_connection("127.0.0.1", unused_tcp_port)
                writer.write(b"ping\\n")
                assert await reader.readline() == b"ping\\n"
                writer.close()
                await writer.wait_closed()
        """
    )
    result = run()
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("kind", list(KINDS))
def test_unused_port_is_function_scoped(pytester: pytest.Pytester, run: Run, kind: str) -> None:
    """unused_*_port is function-scoped: a module-scoped fixture cannot request it."""
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.fixture(scope="module")
        def server_port(unused_{kind}_port):
            return unused_{kind}_port

        def test_a(server_port):
            pass
        """
    )
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*ScopeMismatch: You tried to access the function scoped fixture unused_{kind}_port*"]
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_port_factory_never_repeats_a_port(pytester: pytest.Pytester, run: Run, kind: str) -> None:
    """unused_*_port_factory is session-scoped and never gives the same port twice."""
    sock_type = "SOCK_STREAM" if kind == "tcp" else "SOCK_DGRAM"
    pytester.makepyfile(
        f"""
        import socket
        import pytest

        SEEN = []

        @pytest.fixture(scope="session")
        def session_ports(unused_{kind}_port_factory):
            return unused_{kind}_port_factory

        def test_first(unused_{kind}_port_factory, session_ports):
            assert session_ports is unused_{kind}_port_factory
            SEEN.extend(unused_{kind}_port_factory() for _ in range(20))
            SEEN.append(unused_{kind}_port_factory)

        async def test_second(unused_{kind}_port_factory):
            assert SEEN.pop() is unused_{kind}_port_factory
            SEEN.extend(unused_{kind}_port_factory() for _ in range(20))
            assert len(set(SEEN)) == 40
            with socket.socket(type=socket.{sock_type}) as sock:
                sock.bind(("127.0.0.1", SEEN[-1]))
        """
    )
    result = run()
    result.assert_outcomes(passed=2)


def test_port_fixtures_are_listed(pytester: pytest.Pytester, run: Run) -> None:
    """`pytest --fixtures` lists the four port fixtures with what they give."""
    pytester.makepyfile("def test_a():\n    pass\n")
    result = run("--fixtures")
    result.stdout.fnmatch_lines_random(
        [
            "unused_tcp_port*",
            "*Return a free localhost TCP port.",
            "unused_udp_port*",
            "*Return a free localhost UDP port.",
            "unused_tcp_port_factory*session*",
            "unused_udp_port_factory*session*",
        ]
    )


# -- awaitest._ports -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=list(KINDS))
def test_unused_port_is_free_for_that_kind(kind: socket.SocketKind) -> None:
    """unused_port returns a port in the valid range that a socket of that kind can bind."""
    port = _ports.unused_port(kind)
    assert 0 < port < 65536
    with contextlib.closing(socket.socket(type=kind)) as sock:
        sock.bind(("127.0.0.1", port))


def _scripted_ports(ports: list[int]) -> Iterator[int]:
    yield from ports


def test_port_factory_skips_ports_it_gave_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """PortFactory asks again when the OS offers a port it has already handed out."""
    offered = _scripted_ports([5001, 5001, 5001, 5002, 5001, 5003])
    asked: list[socket.SocketKind] = []

    def fake_unused_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
        asked.append(kind)
        return next(offered)

    monkeypatch.setattr(_ports, "unused_port", fake_unused_port)
    factory = _ports.PortFactory(socket.SOCK_DGRAM)
    assert [factory(), factory(), factory()] == [5001, 5002, 5003]
    assert asked == [socket.SOCK_DGRAM] * 6


def test_port_factory_gives_distinct_bindable_ports() -> None:
    """A real PortFactory gives 50 distinct ports of its kind, each bindable."""
    tcp = _ports.PortFactory(socket.SOCK_STREAM)
    ports = [tcp() for _ in range(50)]
    assert len(set(ports)) == 50
    for port in ports[-3:]:
        with contextlib.closing(socket.socket(type=socket.SOCK_STREAM)) as sock:
            sock.bind(("127.0.0.1", port))
    udp = _ports.PortFactory(socket.SOCK_DGRAM)
    assert len({udp() for _ in range(50)}) == 50
