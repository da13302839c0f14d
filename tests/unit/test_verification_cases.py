"""A verification case's life with an in-memory store: opened by the decider's verdict, its NIK
answer and contact confirmation recorded, settled as soon as both checks are in, expired when
the contact never comes; and what the status page is told, in order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta

from gelombang.events import (
    Channel,
    ContactMethod,
    Event,
    RegistrationAccepted,
    RegistrationProgressed,
    RegistrationRejected,
    RegistrationVerified,
)
from services.verification.service import (
    Case,
    NewCases,
    NikChecked,
    NikRetry,
    Outcome,
    confirm_contacts,
    expire_contacts,
    open_cases,
    progressed,
    record_nik_checks,
)
from tests.citizens import registration_event_fields

EXPIRES = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
# A case opens with what the acceptance says of the registration, as the store copies it.
CASE_FIELDS_FROM_EVENT = {f.name for f in fields(Case)} & set(RegistrationAccepted.model_fields)


@dataclass
class FakeCases:
    """``CaseStore`` as a dict, with the store's rules: a replayed case is not opened twice,
    only a pending check or a waiting contact changes, a settled case keeps its outcome."""

    cases: dict[uuid.UUID, Case] = field(default_factory=dict)
    queued: list[Event] = field(default_factory=list)
    expired: list[uuid.UUID] = field(default_factory=list)

    async def open(self, new: NewCases) -> list[tuple[uuid.UUID, ContactMethod]]:
        opened: list[tuple[uuid.UUID, ContactMethod]] = []
        for event, method in zip(new.accepted, new.methods, strict=True):
            if event.registration_id in self.cases:
                continue
            self.cases[event.registration_id] = Case(
                **event.model_dump(include=CASE_FIELDS_FROM_EVENT),
                contact_method=method,
                contact_state="confirmed" if method == "officer" else "unsent",
                nik_state="pending",
                outcome=None,
            )
            opened.append((event.registration_id, method))
        return opened

    async def locked(self, registration_id: uuid.UUID) -> Case | None:
        return self.cases.get(registration_id)

    async def record_nik_checks(
        self, checked: Sequence[NikChecked], retries: Sequence[NikRetry]
    ) -> list[Case]:
        answered: list[Case] = []
        for check in checked:
            case = self.cases[check.registration_id]
            if case.nik_state == "pending":
                self.cases[case.registration_id] = replace(case, nik_state=check.nik_state)
                answered.append(self.cases[case.registration_id])
        return answered

    async def confirm_contact(self, registration_id: uuid.UUID, version: int | None) -> bool:
        case = self.cases[registration_id]
        if case.contact_state not in ("unsent", "sent") or case.outcome is not None:
            return False
        self.cases[registration_id] = replace(case, contact_state="confirmed")
        return True

    async def expire_contacts(self, limit: int) -> list[uuid.UUID]:
        due = [
            c.registration_id
            for c in self.cases.values()
            if c.contact_state in ("unsent", "sent") and c.outcome is None
        ][:limit]
        for registration_id in due:
            self.cases[registration_id] = replace(
                self.cases[registration_id], contact_state="expired"
            )
        return due

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        for event in outcomes:
            case = self.cases[event.registration_id]
            if case.outcome is None:
                outcome = "verified" if isinstance(event, RegistrationVerified) else "rejected"
                self.cases[case.registration_id] = replace(case, outcome=outcome)

    async def queue(self, events: Sequence[Event]) -> None:
        self.queued.extend(events)


def accepted(channel: Channel = "api", has_email: bool = True) -> RegistrationAccepted:
    return RegistrationAccepted(
        **registration_event_fields(channel=channel, has_email=has_email, has_phone=True)
    )


def told(store: FakeCases, registration_id: uuid.UUID) -> list[str]:
    """What the person's status page is told about the case, in order."""
    steps: list[str] = []
    for event in store.queued:
        if getattr(event, "registration_id", None) != registration_id:
            continue
        if isinstance(event, RegistrationProgressed):
            steps.append(event.status)
        elif isinstance(event, RegistrationRejected):
            steps.append(f"rejected:{event.reason}")
        else:
            steps.append(event.event_type)
    return steps


async def test_an_officer_attested_case_starts_confirmed_and_a_replay_opens_nothing() -> None:
    store = FakeCases()
    online, walk_in = accepted(), accepted(channel="assisted")

    assert await open_cases(store, [online, walk_in], EXPIRES) == 2
    assert await open_cases(store, [online, walk_in], EXPIRES) == 0

    assert store.cases[online.registration_id].contact_method == "email"
    assert store.cases[walk_in.registration_id].contact_method == "officer"
    assert told(store, online.registration_id) == []
    assert told(store, walk_in.registration_id) == ["contact_confirmed"]


async def test_both_checks_in_settle_the_case_once_whichever_comes_last() -> None:
    store = FakeCases()
    nik_first, contact_first = accepted(), accepted(has_email=False)
    await open_cases(store, [nik_first, contact_first], EXPIRES)

    settled = await record_nik_checks(
        store,
        [NikChecked(nik_first.registration_id, "verified")],
        [NikRetry(contact_first.registration_id, 2.0, "http_500")],
    )
    assert settled == []

    def confirmation(registration_id: uuid.UUID) -> tuple[uuid.UUID, Event, int | None]:
        return registration_id, progressed(registration_id, "contact_confirmed", "sms"), None

    settled = await confirm_contacts(
        store,
        [confirmation(nik_first.registration_id), confirmation(contact_first.registration_id)],
    )
    assert [type(e) for e in settled] == [RegistrationVerified]
    # A second click of the same link changes nothing.
    assert await confirm_contacts(store, [confirmation(nik_first.registration_id)]) == []

    settled = await record_nik_checks(
        store, [NikChecked(contact_first.registration_id, "verified")], []
    )
    assert [type(e) for e in settled] == [RegistrationVerified]
    assert told(store, nik_first.registration_id) == [
        "nik_verified",
        "contact_confirmed",
        "RegistrationVerified",
    ]
    assert told(store, contact_first.registration_id) == [
        "contact_confirmed",
        "nik_verified",
        "RegistrationVerified",
    ]


async def test_a_registry_mismatch_rejects_at_once_without_a_nik_step() -> None:
    store = FakeCases()
    case = accepted()
    await open_cases(store, [case], EXPIRES)

    settled = await record_nik_checks(store, [NikChecked(case.registration_id, "mismatch")], [])

    assert [e.event_type for e in settled] == ["RegistrationRejected"]
    assert told(store, case.registration_id) == ["rejected:nik_data_mismatch"]
    assert store.cases[case.registration_id].outcome == "rejected"


async def test_a_contact_never_confirmed_expires_into_a_rejection() -> None:
    store = FakeCases()
    waiting, walk_in = accepted(), accepted(channel="assisted")
    await open_cases(store, [waiting, walk_in], EXPIRES - timedelta(days=3))

    settled = await expire_contacts(store, limit=10)

    assert [e.registration_id for e in settled] == [waiting.registration_id]
    assert told(store, waiting.registration_id) == ["rejected:contact_expired"]
    assert store.cases[walk_in.registration_id].outcome is None
