"""One sign-up, two lanes: the public API and the posko lane answer with one contract (the 202,
the field-level errors, the Idempotency-Key's shape), are wired from registration's one wiring,
and the posko's list shows each of its submissions with the status the person sees.

Both apps are driven in-process (httpx over ASGI, no lifespan, no server) with the fakes of the
registration and assisted service tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gelombang.coalesce import PipelinedRedis
from gelombang.serving import lifespan_runtime
from services.assisted import api as assisted_api
from services.assisted.app import create_app as assisted_app
from services.assisted.service import AssistedCollaborators, Officer, Submission, with_standings
from services.assisted.settings import AssistedSettings
from services.registration import api as registration_api
from services.registration.app import create_app as registration_app
from services.registration.queries import Standing
from services.registration.service import registration_id_for
from services.registration.settings import RegistrationSettings
from services.registration.wiring import SignUpClients, sign_up_collaborators
from tests.citizens import valid_payload
from tests.unit.test_assisted_service import FakeAudit, FakeSubmissions, walk_in
from tests.unit.test_registration_service import World

UNUSED: Any = None  # a part of the runtime these routes do not touch
BASE_URL = "https://gelombang.test"
EN = {"Accept-Language": "en"}


def public_settings() -> RegistrationSettings:
    return RegistrationSettings(nik_hmac_key="dev", pii_key="dev", public_base_url=BASE_URL)


def posko_settings() -> AssistedSettings:
    return AssistedSettings(nik_hmac_key="dev", pii_key="dev", public_base_url=BASE_URL)


@dataclass
class Lanes:
    public: httpx.AsyncClient
    posko: httpx.AsyncClient


@pytest.fixture
async def lanes() -> AsyncIterator[Lanes]:
    public = registration_app(public_settings())
    public.state.runtime = registration_api.Runtime(
        public_settings(), World().deps, UNUSED, UNUSED, UNUSED, UNUSED, UNUSED
    )
    posko = assisted_app(posko_settings())
    deps = AssistedCollaborators(World().deps, FakeSubmissions(), FakeAudit())
    runtime = assisted_api.Runtime(posko_settings(), deps, UNUSED, UNUSED, UNUSED, UNUSED)
    officer = Officer(uuid.uuid4(), uuid.uuid4(), "Ani")
    posko.dependency_overrides[lifespan_runtime] = lambda: runtime
    posko.dependency_overrides[assisted_api.current_officer] = lambda: officer
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=public), base_url="http://p") as p,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=posko), base_url="http://a") as a,
    ):
        yield Lanes(p, a)


PUBLIC_PATH = "/api/v1/registrations"
POSKO_PATH = "/api/v1/assisted/registrations"


async def test_an_accepted_sign_up_gets_the_same_answer_in_both_lanes(lanes: Lanes) -> None:
    key = {"Idempotency-Key": "slip-0001"}
    person, walk_in_person = valid_payload(), walk_in()
    public = await lanes.public.post(PUBLIC_PATH, json=person, headers=key)
    posko = await lanes.posko.post(POSKO_PATH, json=walk_in_person, headers=key)
    for answer in (public, posko):
        assert answer.status_code == 202, answer.text
        assert answer.headers["content-type"] == "application/json"
        body = answer.json()
        assert list(body) == ["registration_id", "status_token", "status_url"]
        assert body["status_url"] == f"{BASE_URL}{PUBLIC_PATH}/{body['registration_id']}"
        assert answer.headers["location"] == body["status_url"]
        assert "idempotent-replayed" not in answer.headers

    # The same key again is the first answer again, marked as such, in both lanes.
    public_again = await lanes.public.post(PUBLIC_PATH, json=person, headers=key)
    posko_again = await lanes.posko.post(POSKO_PATH, json=walk_in_person, headers=key)
    for first, again in ((public, public_again), (posko, posko_again)):
        assert again.status_code == 202
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize(
    ("body", "headers", "field", "code"),
    [
        pytest.param(b'{"nik": "1"', {}, "", "json_invalid", id="bad-json"),
        pytest.param(b'{"nik": "\xff"}', {}, "", "json_invalid", id="not-utf8"),
        pytest.param(
            None,
            {"Idempotency-Key": "has space"},
            "Idempotency-Key",
            "idempotency_key_invalid",
            id="bad-key",
        ),
    ],
)
async def test_a_bad_request_gets_the_same_field_level_422_in_both_lanes(
    lanes: Lanes, body: bytes | None, headers: dict[str, str], field: str, code: str
) -> None:
    answers = []
    for client, path, valid in (
        (lanes.public, PUBLIC_PATH, valid_payload()),
        (lanes.posko, POSKO_PATH, walk_in()),
    ):
        sent = {**EN, **headers, "Content-Type": "application/json"}
        if body is None:
            answer = await client.post(path, json=valid, headers=sent)
        else:
            answer = await client.post(path, content=body, headers=sent)
        assert answer.status_code == 422, answer.text
        answers.append(answer.json())
    public, posko = answers
    assert public == posko
    assert [(e["field"], e["code"]) for e in public["errors"]] == [(field, code)]
    assert public["detail"] and public["errors"][0]["message"]


def test_both_lanes_wired_from_the_same_settings_find_one_person_by_one_nik() -> None:
    """The posko lane's sign-up path is registration's, so a NIK registered in one lane is the
    same blind index and, under the same key, the same registration id in the other."""

    class Unopened:  # the wiring only hands its clients on; nothing is sent at build time
        pass

    redis: Any = Unopened()
    clients = SignUpClients(UNUSED, redis, PipelinedRedis(redis), UNUSED)
    public = sign_up_collaborators(public_settings(), clients)
    posko = sign_up_collaborators(posko_settings(), clients)
    nik = valid_payload()["nik"]
    assert public.cipher.nik_hash(nik) == posko.cipher.nik_hash(nik)
    hashed = public.cipher.nik_hash(nik)
    assert registration_id_for(public.cipher, hashed, "k") == registration_id_for(
        posko.cipher, hashed, "k"
    )


def test_the_posko_list_shows_its_own_submissions_with_the_status_the_person_sees() -> None:
    now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    officer, batch = uuid.uuid4(), uuid.uuid4()
    verified, fresh = uuid.uuid4(), uuid.uuid4()
    submissions = [
        Submission(fresh, officer, None, now),
        Submission(verified, officer, batch, now - timedelta(minutes=5)),
    ]
    standings = {
        verified: Standing(verified, "verified", None, "0001", "35", "3515", "assisted"),
        # Someone else's registration: known to the read model, not this post's.
        uuid.uuid4(): Standing(uuid.uuid4(), "rejected", "duplicate", "9999", "31", "3171", "web"),
    }

    listed = with_standings(submissions, standings)

    # The post's own order, nothing but its own.
    assert [item.registration_id for item in listed] == [fresh, verified]
    # Not stored by the projector yet: still the post's work, shown as submitted.
    assert listed[0].status == "submitted"
    assert (listed[0].reason, listed[0].nik_last4, listed[0].channel) == (None, None, None)
    assert listed[0].submitted_at == now and listed[0].batch_id is None
    # Stored: the status and where it stands, as the person's own status page shows it.
    assert (listed[1].status, listed[1].nik_last4, listed[1].channel) == (
        "verified",
        "0001",
        "assisted",
    )
    assert (listed[1].province_code, listed[1].regency_code) == ("35", "3515")
    assert listed[1].batch_id == batch and listed[1].officer_id == officer
