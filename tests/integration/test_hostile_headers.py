"""Hostile header bytes on every route that reads a client header: a 4xx with a JSON error body,
never a 5xx, at each API directly and through the gateway (DESIGN.md, guarantee 4).

Starlette decodes header bytes as latin-1, so each byte 0x80-0xFF reaches the code as a
non-ASCII character; ``hmac.compare_digest`` raises on such a str, and other code may trip on
text it assumed was ASCII. The routes and their header parameters come from each API's live
OpenAPI, so a route added later is covered without touching this file. httpx refuses NUL, CR,
LF and surrounding whitespace itself, so those are not sent.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from loadtests.officer import provision_officer
from tests.citizens import valid_payload

pytestmark = pytest.mark.integration

APIS = {"registration": 8000, "assisted": 8010, "selection": 8020}
GATEWAY = "http://127.0.0.1:8080"
# nginx's large_client_header_buffers: a header line longer than this never reaches an API.
GATEWAY_HEADER_LINE_MAX = 8 * 1024

HOSTILE: list[bytes] = [
    b"\xff\xfe\xe9abc\x80",
    b"\xe9" * 32,  # as long as a real status token
    "kunci-ñandú-ключ".encode(),  # UTF-8 of non-ASCII text
    b"\xa0\x85",  # latin-1 no-break space and next line: whitespace to str.strip()
    b"",
    b"A" * 7000,  # long, but still within the gateway's header buffer
    b"\xe9" * 7000,
    b"\xff" * 20_000,  # past the gateway's buffer: refused by nginx itself
]

# Headers that hold a secret or a key: sent with a body that passes validation, so that the
# header's own check is what answers. Other headers (language, content type, proof of work) are
# sent on a request refused for another reason, so that the refusal is worded with them.
CREDENTIALS = {"x-status-token", "idempotency-key", "authorization"}
# What each API answers a bad credential: the same 404 as an unknown registration (a guesser
# learns nothing), a field-level 422 for a malformed key, 401 for officer and admin keys.
REFUSAL = {
    ("registration", "x-status-token"): 404,
    ("registration", "idempotency-key"): 422,
    ("assisted", "idempotency-key"): 401,  # without an officer key
    ("assisted", "authorization"): 401,
    ("selection", "authorization"): 401,
}


@dataclass(frozen=True)
class Case:
    api: str
    method: str
    path: str
    header: str
    value: bytes
    body: dict[str, Any] | None = None
    content: bytes | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # The status the API itself answers when the header's own check decides (None: any 4xx).
    expect: int | None = None

    def describe(self) -> str:
        return (
            f"{self.method} {self.path} {self.header}={self.value[:24]!r} (len {len(self.value)})"
        )


def operations() -> Iterator[tuple[str, str, str, list[str]]]:
    """(api, method, path template, header parameter names) of every documented operation."""
    for api, port in APIS.items():
        spec = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10).json()
        for path, ops in spec["paths"].items():
            for method, op in ops.items():
                headers = [p["name"] for p in op.get("parameters", []) if p["in"] == "header"]
                if headers:
                    yield api, method.upper(), path, headers


def concrete(path: str) -> str:
    return (
        path.replace("{registration_id}", str(uuid.uuid4()))
        .replace("{batch_id}", str(uuid.uuid4()))
        .replace("{officer_id}", str(uuid.uuid4()))
        .replace("{number}", "1")
        .replace("{kind}", "labour_office")
    )


def valid_body(path: str) -> dict[str, Any] | None:
    """A body that passes validation, so that a header check decides the answer."""
    registration_id = str(uuid.uuid4())
    bodies: dict[str, dict[str, Any]] = {
        "/api/v1/registrations": valid_payload(),
        "/api/v1/contact/otp/verify": {"registration_id": registration_id, "code": "123456"},
        "/api/v1/contact/otp/resend": {"registration_id": registration_id},
        "/api/v1/contact/change": {"registration_id": registration_id, "phone": "+6281234567890"},
        "/api/v1/assisted/registrations": {**valid_payload(), "attested_id_card_seen": True},
        "/api/v1/assisted/admin/posko": {
            "name": "x",
            "province_code": "32",
            "regency_code": "3275",
        },
        "/api/v1/assisted/admin/officers": {"posko_id": registration_id, "name": "x"},
    }
    return bodies.get(path)


def values_for(header: str) -> Iterator[bytes]:
    for value in HOSTILE:
        yield value
        if header == "authorization" and value:
            yield b"Bearer " + value  # a well-formed scheme, so the token itself is checked


def cases(officer_key: str) -> Iterator[Case]:
    for api, method, template, headers in operations():
        for header in headers:
            for value in values_for(header):
                path = concrete(template)
                officer = {"Authorization": f"Bearer {officer_key}"}
                if header in CREDENTIALS:
                    body = valid_body(template)
                    if api == "assisted" and header == "idempotency-key":
                        # Officer routes check the officer first: a real key gets past that.
                        yield Case(
                            api, method, path, header, value, body, extra=officer, expect=422
                        )
                    yield Case(api, method, path, header, value, body, expect=REFUSAL[api, header])
                elif header == "content-type":
                    # A real officer's upload: of an unknown type (415), or multipart with the
                    # value as its boundary (422, unreadable).
                    for sent, content, expect in (
                        (value, b"nik\n", 415),
                        (b"multipart/form-data; boundary=" + value, b"--", 422),
                    ):
                        yield Case(api, method, path, header, sent, None, content, officer, expect)
                else:
                    # No credential (401/404), or an empty body (422): refused, in this language.
                    body = {} if valid_body(template) is not None else None
                    yield Case(api, method, path, header, value, body)
    # Read from the request, not declared as a parameter: HTML or JSON for the email link.
    for value in HOSTILE:
        yield Case("registration", "GET", "/api/v1/contact/verify?token=x", "accept", value)


def assert_refused(response: httpx.Response, case: Case, where: str) -> None:
    context = f"{where}: {case.describe()} -> {response.status_code} {response.text[:200]!r}"
    assert 400 <= response.status_code < 500, context
    assert response.headers.get("content-type", "").startswith("application/json"), context
    body = response.json()
    assert isinstance(body, dict), context
    assert isinstance(body.get("detail"), str) and body["detail"], context
    assert isinstance(body.get("errors", []), list), context
    assert isinstance(body.get("code", ""), str), context


class Gateway:
    """Clients from loopback addresses of their own, so the gateway's per-address limits are
    spread over them and never throttle the other tests that use 127.0.0.1."""

    def __init__(self, clients: list[httpx.AsyncClient]) -> None:
        self._clients = clients
        self._next = 0

    def client(self) -> httpx.AsyncClient:
        self._next = (self._next + 1) % len(self._clients)
        return self._clients[self._next]


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    clients = [
        httpx.AsyncClient(
            base_url=GATEWAY,
            transport=httpx.AsyncHTTPTransport(
                local_address=f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{n + 3}"
            ),
            timeout=20,
        )
        for n in range(16)
    ]
    try:
        yield Gateway(clients)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


@pytest.fixture
async def direct() -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    clients = {
        api: httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=20)
        for api, port in APIS.items()
    }
    try:
        yield clients
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()))


async def send(client: httpx.AsyncClient, case: Case) -> httpx.Response:
    headers = {name.encode(): value.encode() for name, value in case.extra.items()}
    headers[case.header.encode()] = case.value
    for _ in range(10):
        response = await client.request(
            case.method, case.path, headers=headers, json=case.body, content=case.content
        )
        # The gateway's rate limit answers for the API: wait and ask the API again.
        if response.status_code != 429 or "retry-after" not in response.headers:
            return response
        await asyncio.sleep(float(response.headers["retry-after"]))
    return response


async def test_hostile_header_bytes_get_a_json_4xx_from_every_api_and_the_gateway(
    direct: dict[str, httpx.AsyncClient], gateway: Gateway
) -> None:
    officer = await asyncio.to_thread(
        provision_officer, "http://127.0.0.1:8010", posko_name="Posko Uji Header"
    )
    all_cases = list(cases(officer.api_key))
    covered = {(c.api, c.method, c.path.split("?")[0], c.header) for c in all_cases}
    # Every token- and key-checked route of the three APIs is in the list.
    for api, route in [
        ("registration", "/api/v1/registrations/"),
        ("registration", "/api/v1/contact/otp/verify"),
        ("registration", "/api/v1/contact/otp/resend"),
        ("registration", "/api/v1/contact/change"),
        ("assisted", "/api/v1/assisted/"),
        ("selection", "/api/v1/admin/"),
    ]:
        assert any(a == api and route in p for a, _, p, _ in covered), (api, route)
    assert len({(a, m, p) for a, m, p, h in covered if h == "authorization"}) >= 18

    limit = asyncio.Semaphore(16)

    async def one(case: Case) -> None:
        async with limit:
            answered = await send(direct[case.api], case)
            assert_refused(answered, case, f"{case.api} direct")
            if case.expect is not None:
                assert answered.status_code == case.expect, (case.describe(), answered.text)
            through = await send(gateway.client(), case)
            assert_refused(through, case, "gateway")
            if len(case.value) > GATEWAY_HEADER_LINE_MAX:
                assert through.status_code == 400, case.describe()  # nginx's own, as JSON
            else:
                assert through.status_code == answered.status_code, case.describe()

    await asyncio.gather(*(one(case) for case in all_cases))
