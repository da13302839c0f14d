"""Event contracts: what crosses Kafka between services.

Rules: small frozen models, past-tense names, fields are only ever added (with defaults), and
consumers ignore fields they do not know, so producers can be upgraded before consumers.
Personal data never appears in clear: it travels sealed (see ``gelombang.pii``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

REGISTRATIONS_SUBMITTED = "registrations.submitted"
REGISTRATIONS_CONTACT_CONFIRMED = "registrations.contact_confirmed"
REGISTRATIONS_VERIFIED = "registrations.verified"
REGISTRATIONS_REJECTED = "registrations.rejected"
SELECTION_DECIDED = "selection.decided"
# Status steps between submission and the outcome (contact_pending, contact_confirmed,
# nik_verified), so the read model can show each step.
REGISTRATIONS_PROGRESS = "registrations.progress"
# Requests from the public API to the verification workers (e.g. "send me a new code").
VERIFICATION_REQUESTS = "verification.requests"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


Channel = Literal["web", "api", "assisted"]
EmploymentStatus = Literal[
    "laid_off", "furloughed", "job_seeker", "micro_business", "migrant_worker"
]


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    event_type: ClassVar[str]

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=_now)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class RegistrationSubmitted(Event):
    event_type: ClassVar[str] = "RegistrationSubmitted"

    registration_id: UUID
    nik_hash: str
    nik_last4: str
    # Sealed JSON of {nik, full_name, birth_date, gender, email, phone}, bound to registration_id.
    pii: str
    province_code: str
    regency_code: str
    employment_status: EmploymentStatus
    receives_social_aid: bool
    channel: Channel = "api"
    has_email: bool
    has_phone: bool


# "officer": a posko officer saw the ID card in person, which replaces the contact check.
ContactMethod = Literal["email", "sms", "officer"]
ProgressStatus = Literal["contact_pending", "contact_confirmed", "nik_verified"]
RejectionReason = Literal[
    "nik_not_found", "nik_data_mismatch", "contact_expired", "duplicate", "contact_undeliverable"
]


class ContactConfirmed(Event):
    """The person proved they control the email address or phone (link clicked, OTP typed)."""

    event_type: ClassVar[str] = "ContactConfirmed"

    registration_id: UUID
    method: ContactMethod


class ContactCodeResendRequested(Event):
    event_type: ClassVar[str] = "ContactCodeResendRequested"

    registration_id: UUID


class RegistrationProgressed(Event):
    event_type: ClassVar[str] = "RegistrationProgressed"

    registration_id: UUID
    status: ProgressStatus
    method: ContactMethod | None = None


class RegistrationVerified(Event):
    """Both checks passed: the person joins the eligible pool for the next wave's draw."""

    event_type: ClassVar[str] = "RegistrationVerified"

    registration_id: UUID
    nik_hash: str
    province_code: str
    regency_code: str
    employment_status: EmploymentStatus
    receives_social_aid: bool
    channel: Channel


class RegistrationRejected(Event):
    event_type: ClassVar[str] = "RegistrationRejected"

    registration_id: UUID
    reason: RejectionReason


DecisionOutcome = Literal["selected", "waitlisted", "revoked"]


class SelectionDecided(Event):
    """A wave's outcome for one person: chosen, waiting for a later wave, or seat withdrawn
    (selected but did not start a training in time)."""

    event_type: ClassVar[str] = "SelectionDecided"

    registration_id: UUID
    wave: int
    province_code: str
    outcome: DecisionOutcome


EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type: cls
    for cls in (
        RegistrationSubmitted,
        ContactConfirmed,
        ContactCodeResendRequested,
        RegistrationProgressed,
        RegistrationVerified,
        RegistrationRejected,
        SelectionDecided,
    )
}


class UnknownEvent(Exception):
    """A message whose type header we do not know: it goes to the dead-letter topic."""


def decode_event(event_type: str, payload: bytes) -> Event:
    try:
        cls = EVENT_TYPES[event_type]
    except KeyError as exc:
        raise UnknownEvent(event_type) from exc
    return cls.model_validate_json(payload)
