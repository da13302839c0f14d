"""A TCP proxy that makes a network link misbehave on purpose: latency, cut connections, refusal.

``tc netem`` is not available in this kernel, so ``make chaos`` puts this on the path between a
registration process and Kafka instead (Kafka's ``FAULTS`` listener advertises the proxy's
port, see ``deploy/local/stack.py``). Loopback only.

Latency is added per chunk as a delivery time, not as a sleep in the copy loop, so the link
gets slower but not narrower: bytes keep flowing at full rate, each just arrives later.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

LOOPBACK = "127.0.0.1"


class FaultyLink:
    def __init__(self, listen_port: int, upstream_port: int) -> None:
        self._listen_port = listen_port
        self._upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        #: Added to every chunk, each way.
        self.delay_s = 0.0
        #: New connections are closed at once (the far side looks down); open ones go on.
        self.refusing = False
        self.connections = 0

    async def __aenter__(self) -> FaultyLink:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, self._listen_port)
        return self

    async def __aexit__(self, *_: object) -> None:
        # Whatever ended the block, the link goes down the same way.
        if self._server is not None:
            self._server.close()
        self.cut()
        if self._server is not None:
            await self._server.wait_closed()

    def cut(self) -> int:
        """Close every open connection, both ends, as a dropped link or a NAT reset does."""
        writers = list(self._open)
        for writer in writers:
            writer.transport.abort()
        self._open.clear()
        return len(writers) // 2

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.refusing:
            client_w.transport.abort()
            return
        try:
            upstream_r, upstream_w = await asyncio.open_connection(LOOPBACK, self._upstream_port)
        except OSError:
            client_w.transport.abort()
            return
        self.connections += 1
        self._open |= {client_w, upstream_w}
        try:
            await asyncio.gather(self._pipe(client_r, upstream_w), self._pipe(upstream_r, client_w))
        finally:
            for writer in (client_w, upstream_w):
                self._open.discard(writer)
                writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    return
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(chunk)
                await writer.drain()

        delivering = asyncio.create_task(deliver())
        try:
            while chunk := await reader.read(65536):
                queue.put_nowait((time.monotonic() + self.delay_s, chunk))
        except OSError:
            pass
        finally:
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await delivering
            # One side has gone: so does the other, as on a real broken link.
            writer.transport.abort()
