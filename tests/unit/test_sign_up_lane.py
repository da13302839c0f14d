"""The sign-up lane: valid sign-ups answered past the framework, everything else handed on with
its body intact (plain ASGI calls, no server)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from gelombang.metrics import Message, Scope
from services.registration.lane import SignUpCall, SignUpLane
from services.registration.schemas import RegistrationRequest
from tests.citizens import valid_payload


class Framework:
    """Stands for the FastAPI app behind the lane: records what reached it, answers 422."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await Response(b"{}", status_code=422)(scope, receive, send)


class Handler:
    def __init__(self) -> None:
        self.calls: list[tuple[RegistrationRequest, SignUpCall]] = []

    async def __call__(self, payload: RegistrationRequest, call: SignUpCall) -> Response:
        self.calls.append((payload, call))
        return Response(b'{"ok":true}', status_code=202, media_type="application/json")


def scope(headers: list[tuple[bytes, bytes]], path: str = "/api/v1/registrations") -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": headers,
        "client": ("203.0.113.7", 50000),
    }


async def call(
    lane: SignUpLane, headers: list[tuple[bytes, bytes]], chunks: list[bytes], **kw: str
) -> tuple[int, Scope]:
    the_scope = scope(headers, **kw)
    messages: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await lane(the_scope, receive, send)
    return (sent[0]["status"] if sent else 0), the_scope


JSON = [(b"content-type", b"application/json")]
PAYLOAD = valid_payload()  # a random valid person, the same in every test of this module
BODY = json.dumps(PAYLOAD).encode()


def lane_with() -> tuple[SignUpLane, Framework, Handler]:
    framework, handler = Framework(), Handler()
    route = object()
    return SignUpLane(framework, handle=handler, route=route, max_body=4096), framework, handler


async def test_a_valid_sign_up_is_answered_by_the_handler_with_its_headers() -> None:
    lane, framework, handler = lane_with()
    headers = [
        *JSON,
        (b"idempotency-key", b"key-1"),
        (b"accept-language", b"en"),
        (b"x-altcha", b"proof"),
    ]
    status, seen = await call(lane, headers, [BODY[:50], BODY[50:]])
    assert status == 202 and framework.bodies == []
    [(payload, details)] = handler.calls
    assert payload.model_dump() == RegistrationRequest.model_validate(PAYLOAD).model_dump()
    assert details == SignUpCall("203.0.113.7", "key-1", "en", "proof")
    assert seen["route"] is lane.route  # the metrics label it as the framework's route


async def test_everything_else_reaches_the_framework_with_its_body() -> None:
    cases: list[tuple[list[tuple[bytes, bytes]], bytes]] = [
        (JSON, b'{"nik": "123"'),  # bad JSON
        (JSON, json.dumps({**PAYLOAD, "nik": "12"}).encode()),  # invalid field
        ([(b"content-type", b"text/plain")], BODY),  # another content type
        ([], BODY),  # no content type
        ([*JSON, (b"idempotency-key", b"has space")], BODY),  # malformed key
        ([*JSON, (b"x-altcha", b"x" * 4001)], BODY),  # over-long proof
        (JSON, b""),  # empty body
    ]
    for headers, body in cases:
        lane, framework, handler = lane_with()
        status, _ = await call(lane, headers, [body])
        assert (status, framework.bodies, handler.calls) == (422, [body], []), headers


async def test_a_body_over_the_limit_reaches_the_framework_whole() -> None:
    lane, framework, handler = lane_with()
    chunks = [b"x" * 3000, b"y" * 3000, b"z" * 10]
    status, _ = await call(lane, JSON, chunks)
    assert status == 422 and framework.bodies == [b"".join(chunks)] and handler.calls == []


async def test_other_routes_pass_untouched() -> None:
    lane, framework, handler = lane_with()
    status, _ = await call(lane, JSON, [BODY], path="/api/v1/challenge")
    assert status == 422 and framework.bodies == [BODY] and handler.calls == []


async def test_a_client_that_went_away_gets_nothing_and_nothing_is_done() -> None:
    lane, framework, handler = lane_with()
    status, _ = await call(lane, JSON, [])
    assert status == 0 and framework.bodies == [] and handler.calls == []
