"""Event contracts: what crosses Kafka between services.

Rules: small frozen models, past-tense names, fields are only ever added (with defaults), and
consumers ignore fields they do not know, so producers can be upgraded before consumers.
Personal data never appears in clear: it travels sealed (see ``gelombang.pii``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Literal
from uuid import UUID, uuid4, uuid5

from pydantic import BaseModel, ConfigDict, Field

# Every sign-up attempt, keyed by the NIK's blind index: all attempts of one NIK share a
# partition, in order. The decider's NIK releases travel here too, for the same reason.
REGISTRATIONS_SUBMITTED = "registrations.submitted"
# The decider's verdict "first live attempt of this NIK": the only registrations downstream
# services (verification, and through it selection) ever act on.
REGISTRATIONS_ACCEPTED = "registrations.accepted"
REGISTRATIONS_CONTACT_CONFIRMED = "registrations.contact_confirmed"
REGISTRATIONS_VERIFIED = "registrations.verified"
REGISTRATIONS_REJECTED = "registrations.rejected"
SELECTION_DECIDED = "selection.decided"
# Status steps between submission and the outcome (contact_pending, contact_confirmed,
# nik_verified), so the read model can show each step.
REGISTRATIONS_PROGRESS = "registrations.progress"
# Requests from the public API to the verification workers (e.g. "send me a new code").
VERIFICATION_REQUESTS = "verification.requests"
# "I lost my status link": from the public API to the verification workers, keyed by the NIK's
# blind index. A topic of its own, so a worker that does not know the event yet (a rolling
# upgrade) leaves these requests waiting instead of parking them as unknown in a shared topic.
STATUS_LINK_REQUESTED = "registrations.status_link_requested"
# Every topic above: what ``gelombang.topics`` creates, each with its dead-letter topic.
EVENT_TOPICS = (
    REGISTRATIONS_SUBMITTED,
    REGISTRATIONS_ACCEPTED,
    REGISTRATIONS_CONTACT_CONFIRMED,
    REGISTRATIONS_PROGRESS,
    REGISTRATIONS_VERIFIED,
    REGISTRATIONS_REJECTED,
    SELECTION_DECIDED,
    VERIFICATION_REQUESTS,
    STATUS_LINK_REQUESTED,
)


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


Channel = Literal["web", "api", "assisted"]
EmploymentStatus = Literal[
    "laid_off", "furloughed", "job_seeker", "micro_business", "migrant_worker"
]


# Namespace of the ids of events derived from others (a decision, a release): the same cause
# always yields the same event id, so consumers' idempotency by event id absorbs a re-send.
_DECISIONS = UUID("6b9f3c2e-4f1a-5d0b-9a7e-2c8d1e0f4a53")


def derived_event_id(kind: str, cause: UUID) -> UUID:
    return uuid5(_DECISIONS, f"{kind}:{cause}")


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    event_type: ClassVar[str]

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=_now)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def message_key(self) -> bytes:
        """The Kafka key: by registration unless the event must stay in its NIK's order."""
        return str(getattr(self, "registration_id", "")).encode()


class _KeyedByNik:
    """Mixed into an event that must stay in its NIK's order: keyed by the NIK's blind index,
    all of them share the NIK's partition. Each event declares ``nik_hash`` itself, so that
    its fields keep their order on the wire."""

    if TYPE_CHECKING:
        nik_hash: str

    def message_key(self) -> bytes:
        return self.nik_hash.encode()


class _Registration(_KeyedByNik, Event):
    """What a person submitted; shared by the attempt and the decider's acceptance of it."""

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


class RegistrationSubmitted(_Registration):
    """One sign-up attempt, as the edge took it (the edge's NIK checks are a hint only)."""

    event_type: ClassVar[str] = "RegistrationSubmitted"


class RegistrationAccepted(_Registration):
    """The decider found this the first live attempt of its NIK (``registrations.accepted``).

    The event id is derived from the registration id, so a re-published decision is the same
    event to every consumer."""

    event_type: ClassVar[str] = "RegistrationAccepted"

    @classmethod
    def of(cls, submitted: RegistrationSubmitted) -> RegistrationAccepted:
        fields = submitted.model_dump(exclude={"event_id", "occurred_at"})
        return cls(
            event_id=derived_event_id("accepted", submitted.registration_id),
            occurred_at=submitted.occurred_at,
            **fields,
        )


class NikReleased(_KeyedByNik, Event):
    """A rejection that invites the person to register again gave their NIK back.

    Published by the decider into ``registrations.submitted`` under the NIK's key, so it sits in
    the NIK's own order: an attempt after it in the log is decided against the released claim,
    on the first run and on every replay alike."""

    event_type: ClassVar[str] = "NikReleased"

    registration_id: UUID
    nik_hash: str
    reason: str


# "officer": a posko officer saw the ID card in person, which replaces the contact check.
ContactMethod = Literal["email", "sms", "officer"]
# contact_changed: the person replaced the contact still waiting for confirmation (issue 20).
ProgressStatus = Literal["contact_pending", "contact_confirmed", "nik_verified", "contact_changed"]
RejectionReason = Literal[
    "nik_not_found", "nik_data_mismatch", "contact_expired", "duplicate", "contact_undeliverable"
]
# Rejections whose message tells the person to register again: they give the NIK back, so the
# next attempt is accepted. A duplicate never releases anything (the first one still holds it).
RELEASING_REASONS: frozenset[str] = frozenset(
    {"nik_not_found", "nik_data_mismatch", "contact_expired", "contact_undeliverable"}
)


class ContactConfirmed(Event):
    """The person proved they control the email address or phone (link clicked, OTP typed)."""

    event_type: ClassVar[str] = "ContactConfirmed"

    registration_id: UUID
    method: ContactMethod
    # Which contact of the case the confirmation is for: 0 the one given at sign-up, n its n-th
    # change (an email link carries it). None (an SMS code, or an older producer) confirms
    # whichever is current; a change deletes the live code instead.
    contact_version: int | None = None


class ContactCodeResendRequested(Event):
    event_type: ClassVar[str] = "ContactCodeResendRequested"

    registration_id: UUID


ContactKind = Literal["email", "phone"]


class ContactChangeRequested(Event):
    """The person replaced the email address or mobile number still waiting for confirmation,
    from the status page (issue 20). The new contact travels sealed as at sign-up:
    ``contact`` is ``PiiCipher.seal_json`` of {"email": …} and/or {"phone": …}, bound to the
    registration id. The verification worker applies it only while the case still waits for
    its contact; the event id is the request's, so a replayed record changes nothing twice."""

    event_type: ClassVar[str] = "ContactChangeRequested"

    registration_id: UUID
    kinds: tuple[ContactKind, ...]
    contact: str


class StatusLinkRequested(_KeyedByNik, Event):
    """Someone gave a NIK and a contact and asked for the status link again (issue 20).

    Nothing here says whether the NIK is registered: the API publishes one for every request it
    admits. The verification worker sends the link only to a registration of this NIK whose
    contact of this kind has this blind index (``PiiCipher.contact_hash``); the contact itself
    never travels. The event id is the request id: a replayed record sends nothing twice."""

    event_type: ClassVar[str] = "StatusLinkRequested"

    nik_hash: str
    contact_kind: ContactKind
    contact_hash: str


class RegistrationProgressed(Event):
    event_type: ClassVar[str] = "RegistrationProgressed"

    registration_id: UUID
    status: ProgressStatus
    method: ContactMethod | None = None
    # A contact_changed step's new contact, sealed as in ContactChangeRequested: the status
    # page shows it masked.
    contact: str | None = None


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
        RegistrationAccepted,
        NikReleased,
        ContactConfirmed,
        ContactCodeResendRequested,
        ContactChangeRequested,
        StatusLinkRequested,
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
