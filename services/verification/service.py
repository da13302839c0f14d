"""Verification rules: when a case is settled, what to send, how long to wait. No I/O here."""

from __future__ import annotations

import hmac
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from gelombang.contact import deadline_after_change, status_page_path
from gelombang.events import (
    ContactChangeRequested,
    ContactMethod,
    Event,
    ProgressStatus,
    RegistrationAccepted,
    RegistrationProgressed,
    RegistrationRejected,
    RegistrationVerified,
    RejectionReason,
    StatusLinkRequested,
)
from gelombang.messages import deadline_text, message
from gelombang.pii import PiiCipher, PiiError

RegistryResult = Literal["match", "mismatch", "not_found"]
NikState = Literal["pending", "verified", "not_found", "mismatch"]
ContactState = Literal["unsent", "sent", "confirmed", "expired"]
Outcome = RegistrationVerified | RegistrationRejected

# Event ids are derived from (registration, step) so that re-emitting a step (a replayed batch,
# an outbox row published twice) is recognised downstream as the same event.
_EVENT_NAMESPACE = uuid.UUID("5b0f3c1e-9a53-4d0c-8f3e-4a7d2b1c6e90")


def step_event_id(registration_id: uuid.UUID, step: str) -> uuid.UUID:
    return uuid.uuid5(_EVENT_NAMESPACE, f"{registration_id}:{step}")


@dataclass(frozen=True)
class Case:
    registration_id: uuid.UUID
    nik_hash: str
    province_code: str
    regency_code: str
    employment_status: str
    receives_social_aid: bool
    channel: str
    contact_method: ContactMethod
    contact_state: ContactState
    nik_state: NikState
    outcome: str | None


# A verified case tells the selection pool what the case kept of its acceptance, field by field.
_VERIFIED_FROM_CASE = [
    name for name in RegistrationVerified.model_fields if name not in Event.model_fields
]


@dataclass(frozen=True)
class SealedCase:
    """A case and its personal data, sealed and bound to the case's registration id."""

    registration_id: uuid.UUID
    pii: str

    def personal(self, cipher: PiiCipher) -> dict[str, Any]:
        """The personal data opened; raises ``PiiError`` or ``ValueError`` where it does not."""
        return cipher.open_json(self.pii, str(self.registration_id))


@dataclass(frozen=True)
class DueNikCheck(SealedCase):
    """A NIK check claimed for this worker (its lease runs): whom to check, and how often the
    registry failed to answer for it so far (for the backoff)."""

    attempts: int


@dataclass(frozen=True)
class NikChecked:
    """The registry answered a claimed check."""

    registration_id: uuid.UUID
    nik_state: NikState


@dataclass(frozen=True)
class NikRetry:
    """A claimed check to try again after ``delay_s``: the registry gave no answer (``tried``),
    or the worker did not call it because the registry had asked it to wait (not an attempt)."""

    registration_id: uuid.UUID
    delay_s: float
    error: str
    tried: bool = True


@dataclass(frozen=True)
class ContactSent:
    """A contact message went out: the case's contact is now "sent", and this step is told.

    ``version``: the contact it went to; stored only if that is still the case's contact (a
    change may have replaced it while the message was on its way)."""

    registration_id: uuid.UUID
    method: str
    step: Event
    version: int = 0


@dataclass(frozen=True)
class ContactRetry:
    """A contact message could not go out now: try again after ``delay_s``."""

    registration_id: uuid.UUID
    delay_s: float
    error: str
    version: int = 0


def contact_method_for(has_email: bool, has_phone: bool, channel: str = "api") -> ContactMethod:
    if channel == "assisted":
        return "officer"
    # Email first: free, and the link works for days; SMS for the many without an inbox.
    return "email" if has_email else "sms"


def nik_state_for(result: RegistryResult) -> NikState:
    return {"match": "verified", "mismatch": "mismatch", "not_found": "not_found"}[result]  # type: ignore[return-value]


def decide(case: Case) -> Outcome | None:
    """The outcome a case has reached, or None while checks are still open."""
    if case.outcome is not None:
        return None
    reason: RejectionReason | None = None
    if case.nik_state == "not_found":
        reason = "nik_not_found"
    elif case.nik_state == "mismatch":
        reason = "nik_data_mismatch"
    elif case.contact_state == "expired":
        reason = "contact_expired"
    if reason is not None:
        return RegistrationRejected(
            event_id=step_event_id(case.registration_id, "rejected"),
            registration_id=case.registration_id,
            reason=reason,
        )
    if case.nik_state == "verified" and case.contact_state == "confirmed":
        return RegistrationVerified(
            event_id=step_event_id(case.registration_id, "verified"),
            **{name: getattr(case, name) for name in _VERIFIED_FROM_CASE},
        )
    return None


def progressed(
    registration_id: uuid.UUID,
    status: ProgressStatus,
    method: ContactMethod | None = None,
    version: int = 0,
) -> RegistrationProgressed:
    """``version``: a changed contact's steps are steps of their own (issue 20)."""
    step = status if version == 0 else f"{status}:{version}"
    return RegistrationProgressed(
        event_id=step_event_id(registration_id, step),
        registration_id=registration_id,
        status=status,
        method=method,
    )


def retry_delay_s(attempts: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter, so a recovering registry is not hit in waves."""
    ceiling = min(max_s, base_s * (2 ** min(attempts, 30)))
    return max(base_s / 2, rng.uniform(0, ceiling))


# -- A case's life ------------------------------------------------------------------------------
# Opened by the decider's verdict, its checks recorded, its contact confirmed or expired, and
# settled as soon as ``decide`` says so: the rules here, the rows in the store (repository's
# PostgresCases), all inside the caller's transaction.


@dataclass(frozen=True)
class NewCases:
    """Cases to open: the acceptances, each one's contact method (in the same order), and when
    their contacts expire."""

    accepted: Sequence[RegistrationAccepted]
    methods: Sequence[ContactMethod]
    contact_expires_at: datetime


class CaseStore(Protocol):
    async def open(self, new: NewCases) -> Sequence[tuple[uuid.UUID, ContactMethod]]:
        """Open a case per registration not seen before; those opened now, with their
        contact method."""

    async def locked(self, registration_id: uuid.UUID) -> Case | None:
        """The case, locked until the transaction ends."""

    async def record_nik_checks(
        self, checked: Sequence[NikChecked], retries: Sequence[NikRetry]
    ) -> Sequence[Case]:
        """Store finished checks (only a check still pending changes); the cases answered now,
        locked, as they are after it."""

    async def confirm_contact(self, registration_id: uuid.UUID, version: int | None) -> bool:
        """Mark the contact confirmed if it still waits, open, and is that version (None:
        whichever is current); False if nothing changed."""

    async def expire_contacts(self, limit: int) -> Sequence[uuid.UUID]:
        """Expire up to ``limit`` open contacts past their time; their cases, locked."""

    async def settle(self, outcomes: Sequence[Outcome]) -> None:
        """Store the cases' outcomes (a case settled before keeps its own)."""

    async def queue(self, events: Sequence[Event]) -> None:
        """Queue events to publish once the transaction is stored (the outbox)."""


async def open_cases(
    store: CaseStore, accepted: Sequence[RegistrationAccepted], contact_expires_at: datetime
) -> int:
    """Open a case per newly accepted registration; replays are ignored.

    Assisted registrations start with their contact confirmed: the officer's attestation
    (ID card seen in person) replaces the email or SMS check."""
    if not accepted:
        return 0
    methods = [contact_method_for(e.has_email, e.has_phone, e.channel) for e in accepted]
    opened = await store.open(NewCases(accepted, methods, contact_expires_at))
    await store.queue(
        [
            progressed(registration_id, "contact_confirmed", "officer")
            for registration_id, method in opened
            if method == "officer"
        ]
    )
    return len(opened)


async def settle(store: CaseStore, registration_id: uuid.UUID) -> Outcome | None:
    """Decide the case's outcome if it has one now; store it and queue its event."""
    case = await store.locked(registration_id)
    event = None if case is None else decide(case)
    if event is None:
        return None
    await store.settle([event])
    await store.queue([event])
    return event


async def record_nik_checks(
    store: CaseStore, checked: Sequence[NikChecked], retries: Sequence[NikRetry]
) -> list[Outcome]:
    """Store a batch of finished NIK checks; returns the outcomes settled."""
    cases = await store.record_nik_checks(checked, retries)
    # Each case's "NIK verified" step before its outcome, as the status page shows them: made
    # first, because the read model orders a person's history by the events' occurred_at, and
    # an outcome made earlier would be listed before the step it follows.
    steps: list[Event] = [
        progressed(case.registration_id, "nik_verified")
        for case in cases
        if case.nik_state == "verified"
    ]
    settled = [event for case in cases if (event := decide(case)) is not None]
    await store.settle(settled)
    await store.queue([*steps, *settled])
    return settled


async def confirm_contacts(
    store: CaseStore, confirmations: Sequence[tuple[uuid.UUID, Event, int | None]]
) -> list[Outcome]:
    """Mark contacts confirmed (once; a second click changes nothing) and settle the cases.

    Each confirmation names the contact version it is for (None: whichever is current): a link
    to a contact since replaced confirms nothing.

    In registration-id order, the order in which a batch of NIK results locks its cases: two
    transactions that lock in one order cannot deadlock on each other. (A stable sort: two
    confirmations of one registration keep theirs.)"""
    settled: list[Outcome] = []
    for registration_id, progress, version in sorted(confirmations, key=lambda c: c[0]):
        if not await store.confirm_contact(registration_id, version):
            continue
        await store.queue([progress])
        event = await settle(store, registration_id)
        if event is not None:
            settled.append(event)
    return settled


async def expire_contacts(store: CaseStore, limit: int) -> list[Outcome]:
    """Expire contacts past their time and settle their cases (rejected: contact expired)."""
    settled: list[Outcome] = []
    for registration_id in await store.expire_contacts(limit):
        event = await settle(store, registration_id)
        if event is not None:
            settled.append(event)
    return settled


def status_link(public_base_url: str, registration_id: str, status_token: str) -> str:
    return public_base_url + status_page_path(registration_id, status_token)


def email_text(full_name: str, link: str, status: str, confirm_by: datetime) -> tuple[str, str]:
    """``confirm_by``: the case's deadline as stored when the message goes out (48 hours from
    sign-up, or later after a change of contact: ``deadline_after_change``), which the link's
    own expiry is too."""
    by_id, by_en = deadline_text(confirm_by, "id"), deadline_text(confirm_by, "en")
    subject = "Konfirmasi email pendaftaran Anda / Confirm your email"
    body = (
        f"Halo {full_name},\n\n"
        "Terima kasih telah mendaftar. Untuk melanjutkan, konfirmasi alamat email ini dengan\n"
        "membuka tautan berikut (hanya sekali pakai):\n\n"
        f"{link}\n\n"
        f"Batas waktu konfirmasi: {by_id}. Tanpa konfirmasi,\n"
        "pendaftaran ini berakhir sendiri pada waktu itu.\n\n"
        "Status pendaftaran Anda dapat dilihat kapan saja di halaman berikut. Simpan email ini\n"
        "dan jangan bagikan tautannya:\n\n"
        f"{status}\n\n"
        "Jika Anda tidak merasa mendaftar, abaikan email ini.\n\n"
        "---\n"
        "Thank you for signing up. Open the first link above to confirm this email address,\n"
        f"by {by_en}; unconfirmed, the registration ends by itself then.\n"
        "The second link shows your registration status at any time: keep this email and do\n"
        "not share it. If you did not sign up, ignore this message.\n"
    )
    return subject, body


def sms_text(code: str, status: str, confirm_by: datetime) -> str:
    # Both in one message of two segments (306 GSM-7 characters, which the longest date keeps
    # with a base URL of up to 37): the code, the case's deadline (a new code can be asked for
    # until then) and the way back to the page to type it in.
    return (
        f"Kode verifikasi pendaftaran Anda: {code} (berlaku 10 menit). "
        "JANGAN berikan kepada siapa pun. "
        f"Konfirmasi paling lambat {deadline_text(confirm_by, 'id')}. "
        f"Masukkan kode & lihat status: {status}"
    )


def decision_texts(
    full_name: str, wave: int, outcome: str, status: str
) -> tuple[str, str, str]:
    """(email subject, email body, SMS text) telling a person a wave's decision in plain words."""
    indonesian = message(f"decision_{outcome}", "id", wave=wave)
    english = message(f"decision_{outcome}", "en", wave=wave)
    subject = f"Hasil gelombang {wave} / Wave {wave} result"
    body = (
        f"Halo {full_name},\n\n{indonesian}\n\n"
        f"Status pendaftaran Anda selalu dapat dilihat di halaman status:\n{status}\n\n---\n"
        f"{english}\n\nYour registration status: {status}\n"
    )
    return subject, body, f"{indonesian} Status: {status}"


# -- Lost status link (issue 20) -------------------------------------------------------------
# The API hands every admitted request on without a lookup; here it is judged against the NIK's
# live case. Nothing is told back: a match queues a message to the contact on record, a
# mismatch is only counted.


@dataclass(frozen=True)
class LiveCase(SealedCase):
    """A NIK's live (not rejected) case, as a lost-link request needs it."""


@dataclass(frozen=True)
class StatusLinkTarget:
    """Where a lost-link request's message goes: the registration and the channel of the
    contact that matched."""

    registration_id: uuid.UUID
    method: Literal["email", "sms"]


StatusLinkOutcome = Literal["matched", "no_match", "limited"]


class StatusLinkStore(Protocol):
    async def live_cases(self, nik_hashes: Sequence[str]) -> Mapping[str, LiveCase]: ...

    async def messages_today(self, registration_id: uuid.UUID) -> int:
        """Status-link messages queued for the registration in the last 24 hours."""

    async def record(
        self, event_id: uuid.UUID, outcome: StatusLinkOutcome, target: StatusLinkTarget | None
    ) -> bool:
        """Store a request's judgement (a match as a message due now); False if this request
        id was judged before, and then nothing changes."""


def status_link_target(
    request: StatusLinkRequested, case: LiveCase | None, cipher: PiiCipher
) -> StatusLinkTarget | None:
    """The NIK's live registration, if the contact asked with is its contact of that kind.

    Both sides are blind indexes of normalised values, compared in constant time. The link then
    goes to the contact on record, never to anything the request carried."""
    if case is None:
        return None
    try:
        personal = case.personal(cipher)
    except (PiiError, ValueError):
        return None
    field = "email" if request.contact_kind == "email" else "phone"
    value = personal.get(field)
    if not isinstance(value, str) or not value:
        return None
    on_record = cipher.contact_hash(request.contact_kind, value)
    if not hmac.compare_digest(on_record.encode(), request.contact_hash.encode()):
        return None
    return StatusLinkTarget(case.registration_id, "email" if field == "email" else "sms")


async def judge_status_link_requests(
    requests: Sequence[StatusLinkRequested],
    store: StatusLinkStore,
    cipher: PiiCipher,
    daily_limit: int,
) -> list[StatusLinkOutcome]:
    """Judge requests in log order and store each judgement once (by request id).

    Returns the outcomes judged now, for the metric: a replayed request gives none. At most
    ``daily_limit`` messages a day go to one registration, whatever the API's limits did
    (Redis down switches those off)."""
    if not requests:
        return []
    cases = await store.live_cases(sorted({r.nik_hash for r in requests}))
    judged: list[StatusLinkOutcome] = []
    for request in requests:
        target = status_link_target(request, cases.get(request.nik_hash), cipher)
        outcome: StatusLinkOutcome
        if target is None:
            outcome = "no_match"
        elif await store.messages_today(target.registration_id) >= daily_limit:
            outcome = "limited"
        else:
            outcome = "matched"
        if await store.record(request.event_id, outcome, target):
            judged.append(outcome)
    return judged


def status_link_texts(full_name: str, status: str) -> tuple[str, str, str]:
    """(email subject, email body, SMS text) carrying a registration's status link again."""
    indonesian = message("status_link_resent", "id")
    english = message("status_link_resent", "en")
    subject = "Tautan status pendaftaran Anda / Your registration status link"
    body = (
        f"Halo {full_name},\n\n{indonesian}\n\n{status}\n\n"
        "Jika Anda tidak memintanya, abaikan pesan ini: tautan ini hanya dikirim ke kontak\n"
        "yang Anda berikan saat mendaftar.\n\n---\n"
        f"{english}\n\n{status}\n\n"
        "If you did not ask for it, ignore this message: the link is only ever sent to the\n"
        "contact you gave when you signed up.\n"
    )
    # One SMS segment (160 characters) with a link of ~100: the warning comes first and short.
    sms = f"Tautan status pendaftaran Anda (JANGAN dibagikan): {status}"
    return subject, body, sms


# -- Change of contact (issue 20) ------------------------------------------------------------
# The API hands on a new email address or number for a contact not confirmed yet; here it is
# applied to the case, once per request, and only while the case still waits for its contact.


@dataclass(frozen=True)
class ChangeableCase(SealedCase):
    """A case as a change of contact needs it (locked by the store until the change is stored)."""

    channel: str
    contact_method: str
    contact_state: str
    contact_version: int
    outcome: str | None
    contact_expires_at: datetime


@dataclass(frozen=True)
class ContactChange:
    """What a change does to its case: new sealed personal data, the channel it implies, the
    contact's new version (the old code and link stop working), the step the status page
    shows, and the contact's deadline (``deadline_after_change``: a typo fixed late still
    leaves time to confirm the new contact)."""

    registration_id: uuid.UUID
    pii: str
    method: ContactMethod
    version: int
    step: Event
    expires_at: datetime


ContactChangeOutcome = Literal["changed", "not_waiting", "too_many", "no_case", "unreadable"]


@dataclass(frozen=True)
class ContactChangeJudgement:
    """A change request as judged: its outcome, and what it changes (only when "changed")."""

    request: ContactChangeRequested
    outcome: ContactChangeOutcome
    change: ContactChange | None = None


class ContactChangeStore(Protocol):
    async def case(self, registration_id: uuid.UUID) -> ChangeableCase | None: ...

    async def record(self, judgement: ContactChangeJudgement) -> bool:
        """Store a request's judgement and apply its change; False if this request id was
        judged before, and then nothing changes."""


def contact_change(
    request: ContactChangeRequested,
    case: ChangeableCase | None,
    cipher: PiiCipher,
    max_changes: int,
    now: datetime,
) -> ContactChangeJudgement:
    """``now``: when the change is applied, the new contact's message queued; its grace runs
    from then (a worker that lagged does not eat into it). A change asked for after the
    deadline does not bring back a case the expiry sweep has yet to reach."""
    if case is None:
        return ContactChangeJudgement(request, "no_case")
    waiting = case.contact_state in ("unsent", "sent") and case.contact_method in ("email", "sms")
    if case.outcome is not None or not waiting or request.occurred_at > case.contact_expires_at:
        return ContactChangeJudgement(request, "not_waiting")
    if case.contact_version >= max_changes:
        return ContactChangeJudgement(request, "too_many")
    bound_to = str(case.registration_id)
    try:
        personal = case.personal(cipher)
        new = cipher.open_json(request.contact, bound_to)
    except (PiiError, ValueError):
        return ContactChangeJudgement(request, "unreadable")
    contact = {k: v for k in ("email", "phone") if isinstance(v := new.get(k), str) and v}
    if not contact:
        return ContactChangeJudgement(request, "unreadable")
    personal.update(contact)
    method = contact_method_for(bool(personal.get("email")), bool(personal.get("phone")))
    step = RegistrationProgressed(
        event_id=step_event_id(case.registration_id, f"contact_changed:{request.event_id}"),
        registration_id=case.registration_id,
        status="contact_changed",
        method=method,
        # The request's sealed contact as it came: the read model opens it for the masked hint.
        contact=request.contact,
        # The status answer's deadline counts from this step's time, as the case's does.
        occurred_at=now,
    )
    change = ContactChange(
        case.registration_id,
        cipher.seal_json(personal, bound_to=bound_to),
        method,
        case.contact_version + 1,
        step,
        deadline_after_change(case.contact_expires_at, now),
    )
    return ContactChangeJudgement(request, "changed", change)


async def judge_contact_changes(
    requests: Sequence[ContactChangeRequested],
    store: ContactChangeStore,
    cipher: PiiCipher,
    max_changes: int,
    now: datetime | None = None,
) -> list[tuple[ContactChangeRequested, ContactChangeOutcome]]:
    """Apply changes in log order per registration, each request once (by its id); returns
    those judged now. In registration-id order, the order every multi-case write here locks
    in (a stable sort: two changes of one registration keep theirs). ``now``: the time the
    batch is applied (the clock's by default)."""
    at = now or datetime.now(UTC)
    judged: list[tuple[ContactChangeRequested, ContactChangeOutcome]] = []
    for request in sorted(requests, key=lambda r: r.registration_id):
        case = await store.case(request.registration_id)
        judgement = contact_change(request, case, cipher, max_changes, at)
        if await store.record(judgement):
            judged.append((request, judgement.outcome))
    return judged
