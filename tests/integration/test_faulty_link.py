"""The fault-injecting TCP proxy that ``make chaos`` puts between an API process and Kafka does
what the fault report claims it did: passes bytes, delays them, cuts and refuses connections.
Loopback only, against a small echo server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from loadtests.faulty_link import FaultyLink
from loadtests.processes import free_port

pytestmark = pytest.mark.integration


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


@pytest.fixture
async def link() -> AsyncIterator[tuple[FaultyLink, int]]:
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    upstream_port = upstream.sockets[0].getsockname()[1]
    port = free_port()
    async with upstream, FaultyLink(port, upstream_port) as faulty:
        yield faulty, port


async def round_trip(port: int, payload: bytes) -> tuple[bytes, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(payload)
    answer = await asyncio.wait_for(reader.readexactly(len(payload)), 10)
    elapsed = time.monotonic() - started
    writer.close()
    return answer, elapsed


async def test_bytes_pass_unchanged_and_late_by_the_delay_each_way(
    link: tuple[FaultyLink, int],
) -> None:
    faulty, port = link
    payload = bytes(range(256)) * 1024  # larger than one read: many chunks
    assert (await round_trip(port, payload))[0] == payload
    faulty.delay_s = 0.2
    answer, elapsed = await round_trip(port, b"ping")
    assert answer == b"ping"
    # At least the delay each way; the upper bound leaves room for a loaded CI machine.
    assert 0.4 <= elapsed < 5.0
    assert faulty.connections == 2


async def test_a_cut_closes_open_connections_and_refusal_turns_new_ones_away(
    link: tuple[FaultyLink, int],
) -> None:
    faulty, port = link
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hello")
    assert await reader.readexactly(5) == b"hello"
    assert faulty.cut() == 1
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await asyncio.wait_for(reader.readexactly(1), 5)
    writer.close()

    faulty.refusing = True
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"anyone?")
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await asyncio.wait_for(reader.readexactly(1), 5)
    writer.close()

    faulty.refusing = False
    assert (await round_trip(port, b"back"))[0] == b"back"
