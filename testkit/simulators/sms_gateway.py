"""SMS-gateway simulator: ``python -m testkit.simulators.sms_gateway --port 8092``.

The send API is shaped like the commercial Indonesian SMS aggregators: ``POST /v1/messages``
with a bearer key answers 202 "queued" and is idempotent by the caller's ``client_ref``, so a
client that retries after a timeout does not text the person twice. Sending is behind the faults
of ``faults`` (80 ± 40 ms, 1% errors, 200 messages/s by default: aggregators throttle per account).

Instead of texting anyone it keeps what it was asked to send, for tests to read back over
``GET /v1/messages?to=<number>&since=<ISO time>&limit=<n>`` (or ``client_ref=``; and optionally
appends it to a JSONL outbox file). Those reading endpoints exist only here, not at a real
gateway, and are exempt from faults.
"""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import Response
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field

from gelombang.logs import get_logger
from gelombang.metrics import RequestMetricsMiddleware
from gelombang.probes import Checks, ops_router
from gelombang.serving import LifespanState, lifespan_runtime
from testkit.simulators.faults import FaultConfig, Faults, install_faults
from testkit.simulators.serving import HttpSimulator

SIMULATOR = HttpSimulator(
    service="sms-gateway-sim",
    env_prefix="GELOMBANG_SMS_SIM_",
    faults=FaultConfig(latency_ms=80, jitter_ms=40, error_rate=0.01, rate_limit_per_s=200),
)
# Three concatenated SMS segments of 160 GSM-7 characters: what aggregators accept in one call.
MAX_TEXT = 480
DEFAULT_CAPACITY = 100_000

SMS_REQUESTS = Counter("sms_sim_requests_total", "Send requests answered, by outcome", ["outcome"])
SMS_MESSAGES = Counter("sms_sim_messages_total", "Distinct messages queued (after idempotency)")

log = get_logger(__name__)


class SendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Indonesian E.164 only: the programme texts Indonesian numbers, and a number in any other
    # shape means the client forgot to normalise it.
    to: Annotated[str, Field(pattern=r"^\+62[1-9][0-9]{7,12}$")]
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    client_ref: Annotated[str, Field(min_length=1, max_length=128)]


class Queued(BaseModel):
    message_id: str
    status: str = "queued"


class StoredMessage(BaseModel):
    message_id: str
    to: str
    text: str
    client_ref: str
    received_at: datetime


class MessageList(BaseModel):
    messages: list[StoredMessage]


class Outbox:
    """The last ``capacity`` messages by client_ref, with an index by recipient.

    Bounded because a load test sends millions; the oldest go first. Messages are kept in arrival
    order, so the oldest overall is also the oldest of its recipient: eviction pops from the left
    of that recipient's deque.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY, sink: IO[str] | None = None) -> None:
        self.capacity = capacity
        self._sink = sink
        self._by_ref: OrderedDict[str, StoredMessage] = OrderedDict()
        self._by_to: dict[str, deque[StoredMessage]] = {}

    def __len__(self) -> int:
        return len(self._by_ref)

    def get(self, client_ref: str) -> StoredMessage | None:
        return self._by_ref.get(client_ref)

    def add(self, request: SendRequest) -> StoredMessage:
        message = StoredMessage(
            message_id=uuid.uuid4().hex,
            to=request.to,
            text=request.text,
            client_ref=request.client_ref,
            received_at=datetime.now(UTC),
        )
        self._by_ref[message.client_ref] = message
        self._by_to.setdefault(message.to, deque()).append(message)
        while len(self._by_ref) > self.capacity:
            _, evicted = self._by_ref.popitem(last=False)
            queue = self._by_to[evicted.to]
            queue.popleft()
            if not queue:
                del self._by_to[evicted.to]
        if self._sink is not None:
            self._sink.write(message.model_dump_json() + "\n")
            self._sink.flush()
        return message

    def find(
        self,
        to: str | None,
        client_ref: str | None,
        limit: int,
        since: datetime | None = None,
    ) -> list[StoredMessage]:
        """The newest ``limit`` matches received at or after ``since``, oldest first.

        Walks back from the newest message (of ``to`` when given) and stops at ``limit`` or at
        the first one older than ``since``: an answer costs what it returns, not what the outbox
        holds (up to ``capacity``), and this process also has to keep up with sending.
        """
        if client_ref is not None:
            found = self._by_ref.get(client_ref)
            if found is None or to not in (None, found.to):
                return []
            return [found] if since is None or found.received_at >= since else []
        newest_first: Iterator[StoredMessage] = (
            reversed(self._by_to.get(to, deque()))
            if to is not None
            else reversed(self._by_ref.values())
        )
        if since is not None:
            # Kept in arrival order, so receipt times only go back from here.
            newest_first = itertools.takewhile(lambda m: m.received_at >= since, newest_first)
        picked = list(itertools.islice(newest_first, limit))
        picked.reverse()
        return picked

    def clear(self) -> None:
        self._by_ref.clear()
        self._by_to.clear()


OutboxDep = Annotated[Outbox, Depends(lifespan_runtime)]


async def readiness() -> Checks:
    # Nothing to wait for once started: the outbox is memory (and a file opened at start).
    return {"outbox": True}


def create_app(
    faults: Faults,
    api_key: str | None = None,
    outbox_path: Path | None = None,
    capacity: int = DEFAULT_CAPACITY,
) -> FastAPI:
    """``api_key`` None accepts any non-empty bearer key."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[LifespanState[Outbox]]:
        if outbox_path is None:
            log.info("started", faults=faults.config.model_dump())
            yield {"runtime": Outbox(capacity)}
            return
        outbox_path.parent.mkdir(parents=True, exist_ok=True)
        # Appended, never truncated: the file is a record across restarts; the memory is not.
        with outbox_path.open("a", encoding="utf-8") as sink:
            log.info("started", faults=faults.config.model_dump(), outbox=str(outbox_path))
            yield {"runtime": Outbox(capacity, sink)}

    app = FastAPI(title="SMS gateway simulator", version="1", lifespan=lifespan)
    apply_faults = install_faults(app, faults)

    async def require_bearer(authorization: Annotated[str, Header()] = "") -> None:
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if (
            scheme.lower() != "bearer"
            or not key
            # Bytes: compare_digest raises TypeError on non-ASCII str (a header's latin-1 text).
            or (api_key is not None and not secrets.compare_digest(key.encode(), api_key.encode()))
        ):
            SMS_REQUESTS.labels("unauthorized").inc()
            raise HTTPException(401, "missing or invalid bearer key")

    @app.post(
        "/v1/messages",
        status_code=202,
        dependencies=[Depends(require_bearer), Depends(apply_faults)],
    )
    async def send(body: SendRequest, outbox: OutboxDep) -> Queued:
        existing = outbox.get(body.client_ref)
        if existing is not None:
            if (existing.to, existing.text) != (body.to, body.text):
                # Same key, different message: a client bug that would otherwise silently drop
                # the second text, so say so instead of answering as if it were a retry.
                SMS_REQUESTS.labels("conflict").inc()
                raise HTTPException(409, "client_ref already used for a different message")
            SMS_REQUESTS.labels("duplicate").inc()
            return Queued(message_id=existing.message_id)
        message = outbox.add(body)
        SMS_REQUESTS.labels("queued").inc()
        SMS_MESSAGES.inc()
        return Queued(message_id=message.message_id)

    @app.get("/v1/messages")
    async def read_messages(
        outbox: OutboxDep,
        to: str | None = None,
        client_ref: str | None = None,
        limit: Annotated[int, Query(ge=1, le=DEFAULT_CAPACITY)] = 1000,
        since: datetime | None = None,
    ) -> MessageList:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)  # receipt times are UTC
        return MessageList(messages=outbox.find(to, client_ref, limit, since))

    @app.delete("/v1/messages", status_code=204)
    async def clear_messages(outbox: OutboxDep) -> Response:
        outbox.clear()
        return Response(status_code=204)

    app.include_router(ops_router(readiness))

    app.add_middleware(RequestMetricsMiddleware, service=SIMULATOR.service)
    return app


def main() -> None:
    parser = SIMULATOR.parser("SMS gateway simulator", 8092, "bearer key")
    parser.add_argument("--outbox", type=Path, default=None, help="also append to this JSONL file")
    parser.add_argument("--capacity", type=int, default=DEFAULT_CAPACITY)
    SIMULATOR.serve(
        parser, lambda faults, args: create_app(faults, args.api_key, args.outbox, args.capacity)
    )


if __name__ == "__main__":
    main()
