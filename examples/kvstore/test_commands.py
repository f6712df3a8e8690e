"""The server's commands, one request at a time."""

from __future__ import annotations

import pytest
from kv.client import KVClient, KVError
from kv.server import KVServer


async def test_ping(client: KVClient) -> None:
    assert await client.ping()


async def test_get_returns_what_set_stored(client: KVClient) -> None:
    await client.set("greeting", "hello world")
    assert await client.get("greeting") == "hello world"


async def test_get_of_a_missing_key_is_none(client: KVClient) -> None:
    assert await client.get("nope") is None


async def test_set_replaces_the_value(client: KVClient) -> None:
    await client.set("colour", "red")
    await client.set("colour", "blue")
    assert await client.get("colour") == "blue"


async def test_delete_reports_whether_the_key_existed(client: KVClient) -> None:
    await client.set("k", "v")
    assert await client.delete("k") is True
    assert await client.delete("k") is False
    assert await client.get("k") is None


@pytest.mark.parametrize(("start", "expected"), [(None, 1), ("41", 42), ("-1", 0)])
async def test_incr_adds_one(client: KVClient, start: str | None, expected: int) -> None:
    if start is not None:
        await client.set("n", start)
    assert await client.incr("n") == expected
    assert await client.get("n") == str(expected)


async def test_incr_of_text_is_an_error(client: KVClient) -> None:
    await client.set("name", "ada")
    with pytest.raises(KVError, match="not an integer"):
        await client.incr("name")


async def test_unknown_command_is_an_error(client: KVClient) -> None:
    with pytest.raises(KVError, match="bad request 'FROB x'"):
        await client._request("FROB x")


async def test_each_test_starts_with_an_empty_store(client: KVClient) -> None:
    assert await client.size() == 0
    await client.set("left-behind", "1")  # the next test's client flushes it


def test_sync_tests_can_use_async_fixtures(server: KVServer) -> None:
    host, port = server.address
    assert host == "127.0.0.1"
    assert port > 0
