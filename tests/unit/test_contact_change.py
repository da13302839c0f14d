"""Changing a mistyped email address or number before it is confirmed, and a resend past its
limit said out loud (issue 20), with fakes: the API's rules, what travels in Kafka, and how
the verification worker applies a change once, only to a case still waiting for its contact."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from gelombang.contact import ContactSecrets, OtpCheck, link_expiry
from gelombang.events import (
    VERIFICATION_REQUESTS,
    ContactChangeRequested,
    ContactCodeResendRequested,
    ContactConfirmed,
    Event,
    RegistrationProgressed,
)
from gelombang.kafka import PublishFailed
from gelombang.pii import PiiCipher
from services.registration.api import contact_progress
from services.registration.schemas import ContactChangeRequest
from services.registration.service import (
    ContactChangeCollaborators,
    ContactCollaborators,
    DependencyUnavailable,
    SendLimit,
    confirm_email_link,
    request_contact_change,
    request_new_code,
)
from services.verification.service import (
    ChangeableCase,
    ContactChangeJudgement,
    ContactChangeOutcome,
    judge_contact_changes,
)
from tests.unit.fakes import FakeOnce, FakePublisher

CIPHER = PiiCipher(b"h" * 32, b"e" * 32)
AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@dataclass
class FakeCounter:
    counts: dict[str, int] = field(default_factory=dict)
    down: bool = False

    async def count(self, key: str, ttl_s: int) -> int:
        if self.down:
            raise DependencyUnavailable("redis")
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]

    async def reset(self, key: str) -> None:
        self.counts.pop(key, None)

    async def current(self, key: str) -> int:
        if self.down:
            raise DependencyUnavailable("redis")
        return self.counts.get(key, 0)


class NoCodes:
    """A resend checks no code."""

    async def check(self, registration_id: str, digest: str) -> OtpCheck:
        raise AssertionError("not asked")

    async def restore(self, registration_id: str, digest: str) -> bool:
        raise AssertionError("not asked")


@dataclass
class FakeStandings:
    awaiting: bool | None = True
    down: bool = False

    async def awaiting_contact(self, registration_id: str) -> bool | None:
        if self.down:
            raise DependencyUnavailable("postgres")
        return self.awaiting


@dataclass
class Api:
    registration_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    once: FakeOnce = field(default_factory=FakeOnce)
    counter: FakeCounter = field(default_factory=FakeCounter)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    standings: FakeStandings = field(default_factory=FakeStandings)

    @property
    def change_deps(self) -> ContactChangeCollaborators:
        return ContactChangeCollaborators(
            cipher=CIPHER,
            standings=self.standings,
            once=self.once,
            counter=self.counter,
            publisher=self.publisher,
            limit=3,
            window_s=48 * 3600,
            cooldown_s=60,
        )

    async def change(self, **contact: str) -> str:
        request = ContactChangeRequest(registration_id=uuid.UUID(self.registration_id), **contact)
        return await request_contact_change(request, self.change_deps)

    async def resend(self) -> str:
        deps = ContactCollaborators(ContactSecrets(b"h" * 32), self.once, NoCodes(), self.publisher)
        return await request_new_code(
            self.registration_id, 60, deps, SendLimit(self.counter, 4, 48 * 3600)
        )

    def cooldowns_over(self) -> None:
        self.once.seen.clear()


# -- the API's side ----------------------------------------------------------------------------


async def test_a_change_travels_sealed_and_is_refused_past_its_limits() -> None:
    api = Api()
    assert await api.change(phone="0812 3456 7890") == "queued"
    [(topic, key, event)] = api.publisher.published
    assert topic == VERIFICATION_REQUESTS and key == api.registration_id.encode()
    assert isinstance(event, ContactChangeRequested) and event.kinds == ("phone",)
    # Never in clear in Kafka: sealed to this registration, as at sign-up.
    assert "3456" not in event.to_bytes().decode()
    assert CIPHER.open_json(event.contact, api.registration_id) == {"phone": "+6281234567890"}

    assert await api.change(phone="081234567891") == "too_soon"
    api.cooldowns_over()
    assert await api.change(email="Nama@Contoh.ID") == "queued"
    api.cooldowns_over()
    assert await api.change(phone="081234567892", email="lain@contoh.id") == "queued"
    api.cooldowns_over()
    assert await api.change(phone="081234567893") == "limit"
    assert len(api.publisher.published) == 3


async def test_a_contact_already_confirmed_or_a_closed_case_cannot_be_changed() -> None:
    api = Api(standings=FakeStandings(awaiting=False))
    assert await api.change(phone="081234567890") == "closed"
    api.standings.awaiting = None  # not in the read model (yet): nothing to change
    assert await api.change(phone="081234567890") == "closed"
    assert api.publisher.published == []
    # The read model down: the worker decides (it applies changes to waiting cases only).
    api.standings.down = True
    assert await api.change(phone="081234567890") == "queued"


async def test_a_change_kafka_did_not_take_can_be_sent_again_at_once() -> None:
    api = Api()
    api.publisher.failing = True
    with pytest.raises(PublishFailed):
        await api.change(phone="081234567890")
    api.publisher.failing = False
    assert await api.change(phone="081234567890") == "queued"


async def test_a_resend_past_the_limit_is_refused_and_a_change_gives_new_sends() -> None:
    api = Api()
    answers = []
    for _ in range(5):
        answers.append(await api.resend())
        api.cooldowns_over()
    assert answers == ["queued", "queued", "queued", "queued", "limit"]
    sent = [e for _, _, e in api.publisher.published]
    assert [isinstance(e, ContactCodeResendRequested) for e in sent] == [True] * 4
    assert await api.resend() == "limit"
    api.cooldowns_over()
    assert await api.change(phone="081234567890") == "queued"
    api.cooldowns_over()
    assert await api.resend() == "queued"


async def test_resends_within_the_cooldown_are_too_soon_and_redis_down_lets_them_through() -> None:
    api = Api()
    assert await api.resend() == "queued"
    assert await api.resend() == "too_soon"
    api.cooldowns_over()
    api.counter.down = True
    assert await api.resend() == "queued"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "email", "contact_required"),
        ({"phone": " ", "email": ""}, "email", "contact_required"),
        ({"phone": "0211234567"}, "phone", "phone_not_mobile"),
        ({"phone": "+14155550100"}, "phone", "phone_not_indonesian"),
        ({"email": "nama@"}, "email", "email_invalid"),
    ],
)
def test_a_new_contact_is_checked_by_the_sign_up_rules(
    body: Mapping[str, str], field: str, code: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        ContactChangeRequest(registration_id=uuid.uuid4(), **body)
    [error] = raised.value.errors()
    assert (error["loc"][-1], error["type"]) == (field, code)


def test_the_status_answer_follows_the_changed_contact() -> None:
    history = [("submitted", None), ("contact_pending", None), ("contact_changed", None)]
    changed = contact_progress(history, "api", None, "+6281234560012", AT)
    assert changed is not None
    # Changed, the new number's code not sent yet; the hint is the new number's.
    assert (changed.state, changed.hint, changed.changes) == ("pending", "****0012", 1)
    assert changed.kinds == ["phone"]
    sent = contact_progress([*history, ("contact_pending", None)], "api", None, "+62812", AT)
    assert sent is not None and (sent.state, sent.changes) == ("sent", 1)


def test_a_changed_contacts_link_differs_and_says_which_contact_it_is_for() -> None:
    secrets = ContactSecrets(b"h" * 32)
    registration_id = str(uuid.uuid4())
    expires = AT + timedelta(hours=48)
    first, second = (secrets.link_token(registration_id, expires, v) for v in (0, 1))
    assert first != second
    assert secrets.opened_link(first, AT) == (registration_id, 0)
    assert secrets.opened_link(second, AT) == (registration_id, 1)
    assert secrets.open_link(second, AT) == registration_id


@dataclass
class FakeVersions:
    changes: int | None

    async def contact_version(self, registration_id: str) -> int | None:
        return self.changes


async def test_a_link_to_a_replaced_address_is_refused_and_the_new_one_confirms() -> None:
    api = Api()
    secrets = ContactSecrets(b"h" * 32)
    deps = ContactCollaborators(secrets, api.once, NoCodes(), api.publisher)
    expires = AT + timedelta(hours=48)
    old, new = (secrets.link_token(api.registration_id, expires, v) for v in (0, 1))
    assert await confirm_email_link(old, AT, deps, FakeVersions(1)) == "link_replaced"
    assert api.publisher.published == []
    assert await confirm_email_link(new, AT, deps, FakeVersions(1)) == "confirmed"
    [(_, _, event)] = api.publisher.published
    # The worker checks it too: the read model may not have seen the change yet.
    assert isinstance(event, ContactConfirmed) and event.contact_version == 1


# -- the verification worker's side ----------------------------------------------------------


@dataclass
class FakeCases:
    cases: dict[uuid.UUID, ChangeableCase] = field(default_factory=dict)
    judged: dict[uuid.UUID, ContactChangeOutcome] = field(default_factory=dict)
    steps: list[Event] = field(default_factory=list)

    async def case(self, registration_id: uuid.UUID) -> ChangeableCase | None:
        return self.cases.get(registration_id)

    async def record(self, judgement: ContactChangeJudgement) -> bool:
        if judgement.request.event_id in self.judged:
            return False
        self.judged[judgement.request.event_id] = judgement.outcome
        if (change := judgement.change) is not None:
            case = self.cases[change.registration_id]
            self.cases[change.registration_id] = ChangeableCase(
                case.registration_id,
                change.pii,
                case.channel,
                change.method,
                "unsent",
                change.version,
                case.outcome,
                change.expires_at,
            )
            self.steps.append(change.step)
        return True


def waiting_case(
    contact_state: str = "sent", outcome: str | None = None, expires_at: datetime | None = None
) -> ChangeableCase:
    """A case opened now (as the worker opens one: 48 hours to confirm), unless told when."""
    registration_id = uuid.uuid4()
    personal = {"nik": "3275011705900001", "full_name": "Budi", "phone": "+6281111111111"}
    return ChangeableCase(
        registration_id,
        CIPHER.seal_json(personal, bound_to=str(registration_id)),
        "web",
        "sms",
        contact_state,
        0,
        outcome,
        expires_at or link_expiry(),
    )


def change_of(case: ChangeableCase, **contact: str) -> ContactChangeRequested:
    return ContactChangeRequested(
        registration_id=case.registration_id,
        kinds=tuple(contact),
        contact=CIPHER.seal_json(contact, bound_to=str(case.registration_id)),
    )


async def test_a_change_replaces_the_contact_once_and_restarts_its_message() -> None:
    case = waiting_case()
    store = FakeCases({case.registration_id: case})
    request = change_of(case, phone="+6282222222222")
    judged = await judge_contact_changes([request, request], store, CIPHER, 3)
    assert judged == [(request, "changed")]
    now = store.cases[case.registration_id]
    personal = CIPHER.open_json(now.pii, str(case.registration_id))
    # The new number replaces the old one; the rest of the record is untouched.
    assert personal["phone"] == "+6282222222222" and personal["full_name"] == "Budi"
    assert (now.contact_state, now.contact_version, now.contact_method) == ("unsent", 1, "sms")
    [step] = store.steps
    assert isinstance(step, RegistrationProgressed) and step.status == "contact_changed"
    assert step.contact == request.contact  # sealed; the read model masks it
    # A replay of the whole batch changes nothing more.
    assert await judge_contact_changes([request], store, CIPHER, 3) == []


async def test_a_new_email_makes_the_email_the_channel() -> None:
    case = waiting_case()
    store = FakeCases({case.registration_id: case})
    await judge_contact_changes([change_of(case, email="budi@contoh.id")], store, CIPHER, 3)
    assert store.cases[case.registration_id].contact_method == "email"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (waiting_case("confirmed"), "not_waiting"),
        (waiting_case("expired"), "not_waiting"),
        (waiting_case("sent", "rejected"), "not_waiting"),
    ],
)
async def test_a_case_no_longer_waiting_for_its_contact_ignores_a_change(
    case: ChangeableCase, expected: ContactChangeOutcome
) -> None:
    store = FakeCases({case.registration_id: case})
    request = change_of(case, phone="+6282222222222")
    assert await judge_contact_changes([request], store, CIPHER, 3) == [(request, expected)]
    assert store.cases[case.registration_id] == case and store.steps == []


async def test_the_worker_keeps_its_own_limit_of_changes_and_knows_no_stranger() -> None:
    case = waiting_case()
    store = FakeCases({case.registration_id: case})
    requests = [change_of(case, phone=f"+628222222222{n}") for n in range(4)]
    judged = await judge_contact_changes(requests, store, CIPHER, 3)
    assert [outcome for _, outcome in judged] == ["changed", "changed", "changed", "too_many"]
    personal = CIPHER.open_json(store.cases[case.registration_id].pii, str(case.registration_id))
    assert personal["phone"] == "+6282222222222"
    stranger = change_of(waiting_case(), phone="+6283333333333")
    assert await judge_contact_changes([stranger], store, CIPHER, 3) == [(stranger, "no_case")]
