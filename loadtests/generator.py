"""A lean open-loop HTTP load generator for ``make bench``.

Why not Locust for the bench: on this 2-core machine the generator competes with the system under
test for CPU. Locust's FastHttpUser spends roughly 4x more CPU per request than this (measured,
see the README's Performance section), and it is closed-loop: when the server slows down, users
wait and the offered rate silently drops. This sends at a fixed rate whatever the server does and
measures latency from the moment each request was *due*, so queueing in the generator counts
against the server (no coordinated omission).

It speaks just enough HTTP/1.1 (keep-alive, Content-Length and chunked answers) over a pool of
connections bound to a dedicated loopback source address, which the gateway exempts from its
per-IP limits (``GELOMBANG_GATEWAY_UNLIMITED_CIDRS``), so the public limits stay on for
everyone else on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass, field

# What the bench reports per second of the run: enough for the PNG and for percentiles.
TIMEOUT_STATUS = 0  # no answer within the timeout, or the connection broke

# Told of every answer: (due time, the body sent, status, registration id of a 202 or None).
# The body is the very object the body iterator gave, so the source can recognise its own.
OnAnswer = Callable[[float, bytes, int, "str | None"], None]


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str


@dataclass
class Second:
    sent: int = 0
    # 202s that *finished* in this second: the throughput curve (the rest is by due time).
    completed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    # The 202s' own latencies: what overload must protect is the wait of those it admits, which
    # a percentile over every answer (instant refusals included) would hide.
    accepted_latencies_ms: list[float] = field(default_factory=list)
    # 429/503 without Retry-After: a refusal that does not tell people when to come back.
    shed_without_retry_after: int = 0


@dataclass
class Recording:
    started: float
    seconds: list[Second] = field(default_factory=list)
    accepted_ids: list[str] = field(default_factory=list)
    late_ms_max: float = 0.0
    finished: float = 0.0

    def index(self, at: float) -> int:
        """The second of the run that ``at`` (a monotonic time) falls in."""
        return max(0, int(at - self.started))

    def between(self, start: float, end: float) -> range:
        """The seconds that overlap ``start``..``end``, to leave out with ``skip``."""
        return range(self.index(start), self.index(end) + 1)

    def second(self, at: float) -> Second:
        index = self.index(at)
        while len(self.seconds) <= index:
            self.seconds.append(Second())
        return self.seconds[index]

    def statuses(self, skip: Container[int] = ()) -> dict[int, int]:
        total: dict[int, int] = {}
        for i, s in enumerate(self.seconds):
            if i in skip:
                continue
            for status, n in s.statuses.items():
                total[status] = total.get(status, 0) + n
        return total

    def latencies_ms(self, skip: Container[int] = ()) -> list[float]:
        return [ms for i, s in enumerate(self.seconds) if i not in skip for ms in s.latencies_ms]

    def accepted_latencies_ms(self) -> list[float]:
        return [ms for s in self.seconds for ms in s.accepted_latencies_ms]

    def shed_without_retry_after(self) -> int:
        return sum(s.shed_without_retry_after for s in self.seconds)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


class _Connection:
    def __init__(self, target: Target, source: str | None, timeout_s: float) -> None:
        self._target = target
        self._source = source
        self._timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            local = (self._source, 0) if self._source else None
            self._reader, self._writer = await asyncio.open_connection(
                self._target.host, self._target.port, local_addr=local
            )
        return self._reader, self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def post(self, request: bytes) -> tuple[int, bytes, dict[str, str]]:
        try:
            return await asyncio.wait_for(self._exchange(request), self._timeout_s)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            return TIMEOUT_STATUS, b"", {}

    async def _exchange(self, request: bytes) -> tuple[int, bytes, dict[str, str]]:
        reader, writer = await self._open()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body, headers


def request_bytes(target: Target, body: bytes, idempotency_key: bool) -> bytes:
    head = (
        f"POST {target.path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        "Content-Type: application/json\r\nAccept-Language: en\r\n"
    )
    if idempotency_key:
        # As the sign-up page does: one key per form submission.
        head += f"Idempotency-Key: {uuid.uuid4()}\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


async def run_rate(
    targets: Sequence[Target],
    bodies: Iterator[bytes],
    rate_per_s: float,
    duration_s: float,
    *,
    recording: Recording | None = None,
    connections: int = 256,
    source: str | None = None,
    timeout_s: float = 10.0,
    idempotency_key: bool = True,
    keep_ids: bool = True,
    on_answer: OnAnswer | None = None,
) -> Recording:
    """Offer ``rate_per_s`` requests for ``duration_s``; waits for the stragglers, then returns.

    Requests go round-robin over ``targets``. A request that finds no free connection waits in
    a queue; its latency still starts when it was due. ``on_answer`` lets a body source that
    reacts to answers (repeat attempts of people already accepted) see each one.
    """
    rec = recording if recording is not None else Recording(started=time.monotonic())
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def worker(index: int) -> None:
        conn = _Connection(targets[index % len(targets)], source, timeout_s)
        target = targets[index % len(targets)]
        try:
            while (item := await queue.get()) is not None:
                due, body = item
                headers: dict[str, str] = {}
                if time.monotonic() - due > timeout_s:
                    # A person would have given up by now; sending it anyway would let a slow
                    # run go on for many times its duration. It counts as a timeout.
                    status, answer = TIMEOUT_STATUS, b""
                else:
                    status, answer, headers = await conn.post(
                        request_bytes(target, body, idempotency_key)
                    )
                done = time.monotonic()
                second = rec.second(due)
                second.statuses[status] = second.statuses.get(status, 0) + 1
                if status in (429, 503) and "retry-after" not in headers:
                    second.shed_without_retry_after += 1
                second.latencies_ms.append((done - due) * 1000)
                if status == 202:
                    second.accepted_latencies_ms.append((done - due) * 1000)
                rec.finished = max(rec.finished, done)
                registration_id: str | None = None
                if status == 202:
                    rec.second(done).completed += 1
                    if keep_ids or on_answer is not None:
                        registration_id = json.loads(answer)["registration_id"]
                    if keep_ids and registration_id is not None:
                        rec.accepted_ids.append(registration_id)
                if on_answer is not None:
                    on_answer(due, body, status, registration_id)
        finally:
            conn.close()

    workers = [asyncio.create_task(worker(i)) for i in range(connections)]
    start = time.monotonic()
    total = int(rate_per_s * duration_s)
    issued = 0
    # A 5 ms tick: fine enough that a second's arrivals are spread, coarse enough to be cheap.
    while issued < total:
        now = time.monotonic()
        due_count = min(total, int((now - start) * rate_per_s) + 1)
        while issued < due_count:
            due = start + issued / rate_per_s
            body = next(bodies, None)
            if body is None:
                total = issued
                break
            rec.second(due).sent += 1
            queue.put_nowait((due, body))
            issued += 1
        rec.late_ms_max = max(rec.late_ms_max, queue.qsize() / rate_per_s * 1000)
        await asyncio.sleep(0.005)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return rec
