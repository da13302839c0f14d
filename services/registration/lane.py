"""The public sign-up route as plain ASGI: the hot path's way past the framework.

FastAPI's route machinery (routing, dependency solving, header parameters each validated by
pydantic, response-model validation and encoding, five framework middlewares) cost about a
third of an API process's CPU per sign-up in a py-spy profile (issue 15), more than the event,
the Redis edge and the Kafka publish together. The lane answers the common case itself: a POST
of a JSON body that validates against ``RegistrationRequest`` with well-formed headers. It uses
the same model and hands the sign-up to the same handler as the FastAPI route, so the answers
are the same.

Everything else (bad JSON, invalid fields, a malformed header, another content type, a body over
``max_body``) goes on to the FastAPI route with the body replayed, so every error keeps the one
contract the route and its OpenAPI document define. The lane sits inside the admission and
metrics middlewares: refusals, limits and RED metrics are the same on both paths.

``make bench``'s ceiling process serves its nothing-behind endpoint through this same lane, so
``api_cpu_vs_ceiling`` still prices only the work behind validation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import Response

from gelombang.metrics import ASGIApp, Message, Receive, Scope, Send
from services.registration.schemas import RegistrationRequest

SIGN_UP_PATH = "/api/v1/registrations"
# A sign-up is well under 1 KiB; the gateway refuses far larger bodies before they get here.
MAX_BODY = 16 * 1024
ALTCHA_MAX_LENGTH = 4000
IDEMPOTENCY_KEY_MAX_LENGTH = 200


@dataclass(frozen=True, slots=True)
class SignUpCall:
    """What a sign-up's answer depends on besides its body."""

    client_ip: str
    idempotency_key: str | None
    accept_language: str | None
    proof: str | None


SignUpHandler = Callable[[RegistrationRequest, SignUpCall], Awaitable[Response]]


def valid_idempotency_key(key: str) -> bool:
    """Printable ASCII without spaces, 1-200 characters (the API's documented key shape)."""
    return 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH and all(33 <= ord(ch) <= 126 for ch in key)


def _json_content(value: bytes) -> bool:
    media = value.split(b";", 1)[0].strip().lower()
    return media == b"application/json"


@dataclass(slots=True, eq=False)
class SignUpLane:
    """``POST /api/v1/registrations`` answered without the framework when the request is valid.

    ``route`` is the framework's route object for the same path: set in the scope, so the
    metrics middleware labels both paths with the same route template.
    """

    app: ASGIApp
    _: KW_ONLY
    handle: SignUpHandler
    route: object | None = None
    path: str = SIGN_UP_PATH
    max_body: int = MAX_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        call = self._call_of(scope)
        if call is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away; nobody is left to answer
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body", False))
            if size > self.max_body:
                break
        body = b"".join(chunks)
        payload = None
        if not more and body:
            try:
                payload = RegistrationRequest.model_validate_json(body)
            except ValidationError:
                payload = None
        if payload is None:
            await self.app(scope, _replay(body, more, receive), send)
            return
        if self.route is not None:
            scope["route"] = self.route
        response = await self.handle(payload, call)
        await response(scope, receive, send)

    @staticmethod
    def _call_of(scope: Scope) -> SignUpCall | None:
        """The headers the handler needs, or None when one of them is not plainly well-formed
        (the framework route then answers with its field-level error)."""
        content_type: bytes | None = None
        key = language = proof = None
        for name, value in scope["headers"]:
            # The first of repeated headers, as the framework's header parameters read them.
            if name == b"content-type":
                if content_type is None:
                    content_type = value
            elif name == b"idempotency-key":
                if key is None:
                    key = value.decode("latin-1")
            elif name == b"accept-language":
                if language is None:
                    language = value.decode("latin-1")
            elif name == b"x-altcha" and proof is None:
                proof = value.decode("latin-1")
        if content_type is None or not _json_content(content_type):
            return None
        if key is not None and not valid_idempotency_key(key):
            return None
        if proof is not None and len(proof) > ALTCHA_MAX_LENGTH:
            return None
        client = scope.get("client")
        return SignUpCall(
            client_ip=client[0] if client else "",
            idempotency_key=key,
            accept_language=language,
            proof=proof,
        )


def sign_up_route(app: Starlette) -> object | None:
    """The framework's route object for the sign-up path (for the metrics' route label)."""
    for route in app.routes:
        if getattr(route, "path", None) == SIGN_UP_PATH and "POST" in getattr(route, "methods", ()):
            return route
    return None


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """``receive`` for the framework: the body the lane already read, then the rest, if any."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replay
