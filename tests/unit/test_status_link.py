"""'I lost my status link' (issue 20) with fakes: the API's answer tells nothing about a NIK,
the limits hold, and the verification worker queues a message only for the right contact, once
per request."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gelombang.admission import WindowLimit, WindowLimits
from gelombang.events import STATUS_LINK_REQUESTED, StatusLinkRequested
from gelombang.pii import PiiCipher
from services.registration.api import Runtime
from services.registration.app import create_app
from services.registration.schemas import StatusLinkRequest
from services.registration.service import (
    STATUS_LINK_KEY_PREFIX,
    DependencyUnavailable,
    LinkRequested,
    Refused,
    StatusLinkCollaborators,
    request_status_link,
)
from services.registration.settings import RegistrationSettings
from services.verification.service import (
    LiveCase,
    StatusLinkOutcome,
    StatusLinkTarget,
    judge_status_link_requests,
    status_link,
    status_link_texts,
)
from tests.citizens import valid_payload
from tests.unit.fakes import FakePublisher

CIPHER = PiiCipher(b"k" * 32, b"p" * 32)
NOW = 1_800_000_000.0  # a fixed clock: every request falls in the same windows
STRANGER = "203.0.113.9"  # an address the limits apply to (loopback is trusted)


@dataclass
class FakeCounter:
    """The window script's rule (``repository._WINDOWS``) over a dict of counters."""

    counts: dict[str, int] = field(default_factory=dict)
    down: bool = False

    async def take(self, limits: Sequence[WindowLimit]) -> tuple[int, int, int] | None:
        if self.down:
            raise DependencyUnavailable("redis")
        for index, limit in enumerate(limits):
            current = self.counts.get(limit.key, 0)
            previous = self.counts.get(limit.previous_key, 0)
            if current + 1 + previous * limit.carried > limit.limit:
                return index, current, previous
        for limit in limits:
            self.counts[limit.key] = self.counts.get(limit.key, 0) + 1
        return None


def collaborators(
    counter: FakeCounter | None = None, publisher: FakePublisher | None = None
) -> StatusLinkCollaborators:
    return StatusLinkCollaborators(
        cipher=CIPHER,
        limits=WindowLimits(
            ip=(10, 3600),
            nik=(3, 86_400),
            ip_exempt=["127.0.0.0/8", "::1/128"],
            key_prefix=STATUS_LINK_KEY_PREFIX,
            clock=lambda: NOW,
        ),
        counter=counter or FakeCounter(),
        publisher=publisher or FakePublisher(),
    )


def ask(nik: str, contact: str) -> StatusLinkRequest:
    return StatusLinkRequest.model_validate({"nik": nik, "contact": contact})


# -- the API ----------------------------------------------------------------------------------


@dataclass
class Api:
    client: httpx.AsyncClient
    publisher: FakePublisher
    counter: FakeCounter


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    settings = RegistrationSettings(nik_hmac_key="dev", pii_key="dev")
    app = create_app(settings)
    publisher, counter = FakePublisher(), FakeCounter()
    # No lifespan under ASGITransport: the runtime is set by hand; this route uses only the
    # status-link collaborators (and the settings).
    app.state.runtime = Runtime(
        settings,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # asyncpg ships no types
        collaborators(counter, publisher),
    )
    transport = httpx.ASGITransport(app=app, client=(STRANGER, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield Api(client, publisher, counter)


async def test_registered_wrong_contact_and_unknown_nik_get_the_same_answer(api: Api) -> None:
    store = FakeStatusLinks()
    nik, registration_id = registered(store, email="siti.uji@example.co.id", phone=None)
    person = {"nik": nik, "email": "siti.uji@example.co.id"}
    stranger = valid_payload()
    asks = [
        {"nik": person["nik"], "contact": person["email"]},  # the registered pair
        {"nik": person["nik"], "contact": "someone.else@example.co.id"},  # wrong contact
        {"nik": stranger["nik"], "contact": person["email"]},  # a NIK nobody registered
    ]
    answers = [await api.client.post("/api/v1/status-link", json=body) for body in asks]
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    headers = [{k: v for k, v in a.headers.items() if k != "date"} for a in answers]
    assert headers[0] == headers[1] == headers[2]
    assert answers[0].json() == {
        "status": "status_link_requested",
        "detail": "Jika NIK ini terdaftar dengan kontak tersebut, kami telah mengirim tautan "
        "status ke kontak itu. Periksa email atau SMS Anda.",
    }
    # Each went on to the workers the same way, and nothing in them is in clear.
    assert [topic for topic, _, _ in api.publisher.published] == [STATUS_LINK_REQUESTED] * 3
    for (_, key, event), body in zip(api.publisher.published, asks, strict=True):
        raw = event.to_bytes()
        assert body["nik"].encode() not in raw and body["contact"].encode() not in raw
        assert isinstance(event, StatusLinkRequested)
        assert key == event.nik_hash.encode() == CIPHER.nik_hash(body["nik"]).encode()
    # Only the worker, which holds the contacts, tells them apart, and it tells nobody.
    requests = [e for _, _, e in api.publisher.published if isinstance(e, StatusLinkRequested)]
    outcomes = await judge_status_link_requests(requests, store, CIPHER, daily_limit=3)
    assert outcomes == ["matched", "no_match", "no_match"]
    assert store.due() == [StatusLinkTarget(registration_id, "email")]


async def test_the_answer_is_in_the_language_asked_for(api: Api) -> None:
    person = valid_payload()
    answer = await api.client.post(
        "/api/v1/status-link",
        json={"nik": person["nik"], "contact": person["phone"]},
        headers={"Accept-Language": "en"},
    )
    assert answer.status_code == 202
    assert answer.json()["detail"].startswith("If this NIK was registered with this contact")


async def test_a_fourth_request_for_one_nik_in_a_day_is_refused_with_retry_after(
    api: Api,
) -> None:
    person = valid_payload()
    body = {"nik": person["nik"], "contact": person["email"]}
    for _ in range(3):
        assert (await api.client.post("/api/v1/status-link", json=body)).status_code == 202
    refused = await api.client.post("/api/v1/status-link", json=body)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["detail"].startswith("Terlalu banyak permintaan tautan status")
    # A limit to wait out, which the page must tell from a busy site to retry.
    assert refused.json()["code"] == "status_link_too_many"
    assert len(api.publisher.published) == 3
    # Another NIK from the same address is not held back by this one's limit.
    other = valid_payload()
    again = await api.client.post(
        "/api/v1/status-link", json={"nik": other["nik"], "contact": other["email"]}
    )
    assert again.status_code == 202


async def test_an_address_gets_ten_requests_an_hour() -> None:
    deps = collaborators()
    people = [valid_payload() for _ in range(11)]
    outcomes = [
        await request_status_link(ask(p["nik"], p["email"]), STRANGER, deps) for p in people
    ]
    assert outcomes[:10] == [LinkRequested()] * 10
    refused = outcomes[10]
    assert isinstance(refused, Refused)
    assert refused.refusal.status == 429 and refused.refusal.reason == "ip_limit"
    assert refused.refusal.retry_after_s is not None and refused.refusal.retry_after_s >= 1
    # The machine's own load generators and tests are trusted, as for sign-ups.
    trusted = await request_status_link(ask(people[10]["nik"], people[10]["email"]), "::1", deps)
    assert trusted == LinkRequested()


def test_the_limits_use_keys_of_their_own() -> None:
    limits = collaborators().limits.limits(STRANGER, "abc")
    assert [w.reason for w in limits] == ["ip_limit", "nik_limit"]
    assert all(w.key.startswith("status-link:") for w in limits)
    assert [w.limit for w in limits] == [10, 3]
    assert collaborators().limits.limits("127.0.0.1", "abc")[0].reason == "nik_limit"


async def test_redis_down_still_takes_the_request() -> None:
    publisher = FakePublisher()
    deps = collaborators(FakeCounter(down=True), publisher)
    person = valid_payload()
    assert await request_status_link(ask(person["nik"], person["email"]), STRANGER, deps) == (
        LinkRequested()
    )
    assert len(publisher.published) == 1


async def test_kafka_down_is_a_503_to_retry(api: Api) -> None:
    api.publisher.failing = True
    person = valid_payload()
    answer = await api.client.post(
        "/api/v1/status-link", json={"nik": person["nik"], "contact": person["email"]}
    )
    assert answer.status_code == 503
    assert "retry-after" in answer.headers


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"nik": "123", "contact": "a@example.co.id"}, "nik", "nik_format"),
        ({"nik": None, "contact": "a@example.co.id"}, "nik", "string_type"),
        ({"contact": "a@example.co.id"}, "nik", "missing"),
        ({"nik": "NIK", "contact": "  "}, "contact", "contact_required"),
        ({"nik": "NIK", "contact": "not-an-email@"}, "contact", "email_invalid"),
        ({"nik": "NIK", "contact": "021 555 1234"}, "contact", "phone_not_mobile"),
        ({"nik": "NIK", "contact": "+65 9123 4567"}, "contact", "phone_not_indonesian"),
        ({"nik": "NIK", "contact": "x" * 300}, "contact", "string_too_long"),
        ({"nik": "NIK", "contact": "a@example.co.id", "name": "x"}, "name", "extra_forbidden"),
    ],
)
async def test_bad_input_gets_a_field_error(
    api: Api, body: dict[str, Any], field: str, code: str
) -> None:
    if body.get("nik") == "NIK":
        body = {**body, "nik": valid_payload()["nik"]}
    answer = await api.client.post("/api/v1/status-link", json=body)
    assert answer.status_code == 422, answer.text
    assert [(e["field"], e["code"]) for e in answer.json()["errors"]] == [(field, code)]
    assert api.publisher.published == []


def test_the_contact_is_read_as_it_was_stored_at_sign_up() -> None:
    nik = valid_payload()["nik"]
    phones = {ask(nik, p).contact for p in ("0812-3456-7890", "+62 812 3456 7890", "6281234567890")}
    assert phones == {"+6281234567890"}
    assert ask(nik, "0812 3456 7890").contact_kind == "phone"
    email = ask(nik, "Siti.Rahayu@Example.CO.ID")
    assert email.contact_kind == "email"
    # Case does not matter to the blind index: people forget which letters they capitalised.
    assert CIPHER.contact_hash("email", email.contact) == CIPHER.contact_hash(
        "email", "siti.rahayu@example.co.id"
    )
    assert CIPHER.contact_hash("email", "a@b.id") != CIPHER.contact_hash("phone", "a@b.id")


# -- the verification worker -------------------------------------------------------------------


@dataclass
class FakeStatusLinks:
    """``StatusLinkStore`` in memory: live cases by NIK hash and the judged requests."""

    cases: dict[str, LiveCase] = field(default_factory=dict)
    judged: dict[uuid.UUID, tuple[StatusLinkOutcome, StatusLinkTarget | None]] = field(
        default_factory=dict
    )

    async def live_cases(self, nik_hashes: Sequence[str]) -> Mapping[str, LiveCase]:
        return {h: self.cases[h] for h in nik_hashes if h in self.cases}

    async def messages_today(self, registration_id: uuid.UUID) -> int:
        return sum(
            1
            for outcome, target in self.judged.values()
            if outcome == "matched" and target is not None
            and target.registration_id == registration_id
        )

    async def record(
        self, event_id: uuid.UUID, outcome: StatusLinkOutcome, target: StatusLinkTarget | None
    ) -> bool:
        if event_id in self.judged:
            return False
        self.judged[event_id] = (outcome, target)
        return True

    def due(self) -> list[StatusLinkTarget]:
        return [t for o, t in self.judged.values() if o == "matched" and t is not None]


def registered(store: FakeStatusLinks, **contact: str | None) -> tuple[str, uuid.UUID]:
    """A live case of a new person with the given contacts; their NIK."""
    person = valid_payload(**contact)
    registration_id = uuid.uuid4()
    personal = {"nik": person["nik"], "full_name": person["full_name"], **contact}
    sealed = CIPHER.seal_json(personal, bound_to=str(registration_id))
    store.cases[CIPHER.nik_hash(person["nik"])] = LiveCase(registration_id, sealed)
    return person["nik"], registration_id


async def published(nik: str, contact: str) -> StatusLinkRequested:
    """The event the API publishes for this request."""
    publisher = FakePublisher()
    await request_status_link(ask(nik, contact), "127.0.0.1", collaborators(None, publisher))
    ((_, _, event),) = publisher.published
    assert isinstance(event, StatusLinkRequested)
    return event


async def test_only_the_contact_on_record_gets_a_message() -> None:
    store = FakeStatusLinks()
    nik, registration_id = registered(store, email="siti.uji@example.co.id", phone=None)
    nobody = valid_payload()["nik"]
    requests = [
        await published(nik, "Siti.Uji@example.co.id"),  # the same address, other case
        await published(nik, "budi@example.co.id"),  # another address
        await published(nik, "081234567890"),  # a phone, and the case has none
        await published(nobody, "siti.uji@example.co.id"),  # a NIK nobody registered
    ]
    outcomes = await judge_status_link_requests(requests, store, CIPHER, daily_limit=3)
    assert outcomes == ["matched", "no_match", "no_match", "no_match"]
    assert store.due() == [StatusLinkTarget(registration_id, "email")]


async def test_a_phone_match_is_sent_by_sms() -> None:
    store = FakeStatusLinks()
    nik, registration_id = registered(store, email="x@example.co.id", phone="+6281234567890")
    outcomes = await judge_status_link_requests(
        [await published(nik, "0812-3456-7890")], store, CIPHER, daily_limit=3
    )
    assert outcomes == ["matched"]
    assert store.due() == [StatusLinkTarget(registration_id, "sms")]


async def test_a_replayed_request_is_judged_and_sent_once() -> None:
    store = FakeStatusLinks()
    nik, _ = registered(store, email="siti.uji@example.co.id", phone=None)
    request = await published(nik, "siti.uji@example.co.id")
    assert await judge_status_link_requests([request], store, CIPHER, 3) == ["matched"]
    # The batch replayed after a crash (and the record twice within one batch): nothing new.
    assert await judge_status_link_requests([request, request], store, CIPHER, 3) == []
    assert len(store.due()) == 1


async def test_a_registration_gets_at_most_its_daily_messages() -> None:
    store = FakeStatusLinks()
    nik, _ = registered(store, email="siti.uji@example.co.id", phone=None)
    # Four different requests (the API's limits were off: Redis was down).
    requests = [await published(nik, "siti.uji@example.co.id") for _ in range(4)]
    outcomes = await judge_status_link_requests(requests, store, CIPHER, daily_limit=3)
    assert outcomes == ["matched", "matched", "matched", "limited"]
    assert len(store.due()) == 3


async def test_a_case_that_cannot_be_opened_matches_nothing() -> None:
    store = FakeStatusLinks()
    nik, registration_id = registered(store, email="siti.uji@example.co.id", phone=None)
    # Sealed for another record: opening it fails, and that is no match (never a crash).
    store.cases[CIPHER.nik_hash(nik)] = LiveCase(
        registration_id, CIPHER.seal_json({"email": "siti.uji@example.co.id"}, "other")
    )
    request = await published(nik, "siti.uji@example.co.id")
    assert await judge_status_link_requests([request], store, CIPHER, 3) == ["no_match"]


def test_the_message_carries_the_status_link_in_both_languages() -> None:
    registration_id = str(uuid.uuid4())
    link = status_link(
        "https://daftar.example.id", registration_id, CIPHER.status_token(registration_id)
    )
    subject, body, sms = status_link_texts("Siti Uji Rahayu", link)
    assert "Tautan status" in subject and "status link" in subject
    assert body.count(link) == 2
    assert "Halo Siti Uji Rahayu" in body
    assert "jangan bagikan" in body and "do not share" in body
    assert link in sms and "JANGAN dibagikan" in sms
    assert len(sms) <= 160, "one SMS segment"
    assert link.startswith(f"https://daftar.example.id/status#id={registration_id}&t=")
    json.dumps([subject, body, sms])  # plain text, nothing else
