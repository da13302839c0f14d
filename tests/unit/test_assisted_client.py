"""The offline posko client: its queue (SQLite in memory) and sync against a fake server
(httpx.MockTransport, no network)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.assisted.schemas import AssistedRegistrationRequest
from testkit.posko_client import Queue, refresh, sync
from tests.citizens import valid_payload


def walk_in() -> AssistedRegistrationRequest:
    body = valid_payload(email=None, phone=None, attested_id_card_seen=True)
    return AssistedRegistrationRequest.model_validate(body)


@dataclass
class FakeServer:
    """Answers like the assisted API: one registration per Idempotency-Key."""

    answer: Callable[[httpx.Request], httpx.Response | None] = lambda _: None
    by_key: dict[str, str] = field(default_factory=dict)
    seen_keys: list[str] = field(default_factory=list)
    statuses: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        special = self.answer(request)
        if special is not None:
            return special
        if request.method == "GET":
            items = [
                {"registration_id": rid, "status": status, "reason": reason}
                for rid, (status, reason) in self.statuses.items()
            ]
            return httpx.Response(200, json={"items": items, "next_before": None})
        key = request.headers["Idempotency-Key"]
        self.seen_keys.append(key)
        rid = self.by_key.setdefault(key, str(uuid.uuid4()))
        self.statuses.setdefault(rid, ("submitted", None))
        return httpx.Response(202, json={"registration_id": rid, "status_token": "t-" + rid})

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url="http://posko.test", transport=httpx.MockTransport(self.handle)
        )


def no_sleep(_: float) -> None:
    return None


def test_entries_wait_while_offline_and_go_out_once_back() -> None:
    queue = Queue(":memory:")
    first, second = queue.add(walk_in()), queue.add(walk_in())

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route to host", request=request)

    with httpx.Client(base_url="http://x", transport=httpx.MockTransport(unreachable)) as down:
        report = sync(queue, down, sleep=no_sleep)
    assert report.stopped == "offline" and report.still_pending == 2
    assert [e.state for e in queue.entries()] == ["pending", "pending"]

    server = FakeServer()
    with server.client() as online:
        report = sync(queue, online, sleep=no_sleep)
    assert (report.accepted, report.still_pending, report.stopped) == (2, 0, None)
    assert server.seen_keys == [first.idempotency_key, second.idempotency_key]
    accepted = queue.get(first.id)
    assert accepted.state == "accepted" and accepted.payload is None
    assert accepted.registration_id == server.by_key[first.idempotency_key]

    with server.client() as online:
        assert sync(queue, online, sleep=no_sleep).accepted == 0
    assert len(server.seen_keys) == 2


def test_an_unanswered_entry_stays_sent_and_is_resent_with_the_same_key() -> None:
    queue = Queue(":memory:")
    entry = queue.add(walk_in())
    server = FakeServer()

    def lost(request: httpx.Request) -> httpx.Response:
        server.handle(request)  # the server did the work...
        raise httpx.ReadTimeout("...but the answer never came", request=request)

    with httpx.Client(base_url="http://x", transport=httpx.MockTransport(lost)) as flaky:
        report = sync(queue, flaky, sleep=no_sleep)
    assert report.stopped == "offline"
    assert queue.get(entry.id).state == "sent"

    with server.client() as online:
        sync(queue, online, sleep=no_sleep)
    assert server.seen_keys == [entry.idempotency_key] * 2
    assert len(server.statuses) == 1  # one registration, not two
    assert queue.get(entry.id).state == "accepted"


def test_refused_entries_are_rejected_with_the_servers_reasons() -> None:
    queue = Queue(":memory:")
    entry = queue.add(walk_in())
    body = {
        "detail": "...",
        "errors": [{"field": "nik", "code": "nik_already_registered", "message": "..."}],
    }
    server = FakeServer(answer=lambda r: httpx.Response(409, json=body))
    with server.client() as online:
        report = sync(queue, online, sleep=no_sleep)
    assert report.rejected == 1
    refused = queue.get(entry.id)
    assert refused.state == "rejected"
    assert [(r.field, r.code) for r in refused.reasons] == [("nik", "nik_already_registered")]


def test_a_busy_server_is_retried_after_retry_after_then_left_pending() -> None:
    queue = Queue(":memory:")
    queue.add(walk_in())
    queue.add(walk_in())
    waits: list[float] = []
    server = FakeServer(answer=lambda r: httpx.Response(503, headers={"Retry-After": "5"}))
    with server.client() as online:
        report = sync(queue, online, sleep=waits.append)
    assert report.stopped == "busy" and report.still_pending == 2
    assert waits == [5.0, 5.0, 5.0]
    assert [e.state for e in queue.entries()] == ["pending", "pending"]


def test_a_revoked_key_stops_sync_and_keeps_everything() -> None:
    queue = Queue(":memory:")
    queue.add(walk_in())
    server = FakeServer(answer=lambda r: httpx.Response(401, json={"detail": "x", "errors": []}))
    with server.client() as online:
        report = sync(queue, online, sleep=no_sleep)
    assert report.stopped == "unauthorized"
    assert [e.state for e in queue.entries()] == ["pending"]


def test_status_refresh_shows_verification_outcomes() -> None:
    queue = Queue(":memory:")
    ok, bad = queue.add(walk_in()), queue.add(walk_in())
    server = FakeServer()
    with server.client() as online:
        sync(queue, online, sleep=no_sleep)
        server.statuses[server.by_key[ok.idempotency_key]] = ("verified", None)
        server.statuses[server.by_key[bad.idempotency_key]] = ("rejected", "nik_not_found")
        assert refresh(queue, online) == 2
    assert queue.get(ok.id).server_status == "verified"
    rejected = queue.get(bad.id)
    assert rejected.state == "rejected"
    assert [r.code for r in rejected.reasons] == ["nik_not_found"]


def test_the_queued_body_is_what_the_server_validates() -> None:
    queue = Queue(":memory:")
    request = walk_in()
    sent: list[dict[str, Any]] = []
    server = FakeServer()

    def capture(r: httpx.Request) -> httpx.Response | None:
        sent.append(json.loads(r.content))
        return None

    server.answer = capture
    queue.add(request)
    with server.client() as online:
        sync(queue, online, sleep=no_sleep)
    [body] = sent
    assert AssistedRegistrationRequest.model_validate(body) == request
