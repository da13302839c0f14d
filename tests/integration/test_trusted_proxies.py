"""Whose X-Forwarded-For an API believes: the real uvicorn configuration every API serves with
(gelombang.serving), a gateway address and client addresses on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn

from gelombang.metrics import Receive, Scope, Send
from gelombang.serving import server_config
from gelombang.settings import CommonSettings

SPOOFED = "203.0.113.7"


async def echo_client(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the client address the app was given: what the per-address limits count."""
    if scope["type"] != "http":
        return
    host = (scope.get("client") or ("", 0))[0]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": host.encode()})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def api_trusting(trusted: str) -> AsyncIterator[int]:
    settings = CommonSettings(trusted_proxies=trusted)
    port = free_port()
    config = server_config(echo_client, host="127.0.0.1", port=port, settings=settings)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await until_listening(port)
        yield port
    finally:
        server.should_exit = True
        await task


async def until_listening(port: int, deadline_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > end:
                raise
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return


async def seen_as(port: int, source: str, forwarded_for: str | None) -> str:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        answer = await client.get(f"http://127.0.0.1:{port}/", headers=headers)
    return answer.text


async def test_a_forwarded_address_is_believed_only_from_the_gateway() -> None:
    async with api_trusting("127.0.0.1") as port:
        # The gateway (127.0.0.1) forwards a real client: that client is counted.
        assert await seen_as(port, "127.0.0.1", SPOOFED) == SPOOFED
        # Anyone else sending the same header is counted as themselves.
        assert await seen_as(port, "127.0.0.3", SPOOFED) == "127.0.0.3"
        assert await seen_as(port, "127.0.0.3", None) == "127.0.0.3"


async def test_trusted_proxies_may_be_a_network() -> None:
    async with api_trusting("127.0.0.0/30,::1") as port:
        assert await seen_as(port, "127.0.0.3", SPOOFED) == SPOOFED
        assert await seen_as(port, "127.0.0.9", SPOOFED) == "127.0.0.9"


def test_trusting_everyone_or_garbage_is_refused() -> None:
    for bad in ("*", "127.0.0.1,*", "gateway", "127.0.0.1,,"):
        with pytest.raises(ValueError):
            CommonSettings(trusted_proxies=bad)
