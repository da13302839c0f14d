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


EVENT_TYPES: dict[str, type[Event]] = {cls.event_type: cls for cls in (RegistrationSubmitted,)}


class UnknownEvent(Exception):
    """A message whose type header we do not know: it goes to the dead-letter topic."""


def decode_event(event_type: str, payload: bytes) -> Event:
    try:
        cls = EVENT_TYPES[event_type]
    except KeyError as exc:
        raise UnknownEvent(event_type) from exc
    return cls.model_validate_json(payload)
