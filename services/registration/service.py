"""Sign-up logic: dedupe, make the event durable, answer. No I/O of its own.

Collaborators are passed in (see the Protocols below) so the rules can be tested with fakes.
The lookups go out together (one round trip), but their answers are judged in this order, and
that order is what makes the guarantees hold:

1. A retried request (same Idempotency-Key, same body) gets the first answer again.
2. "One NIK, one registration": the Redis fast path, then the Postgres claim (the truth). Either
   may be down; then we skip it, because an outage of a fast path must never stop intake. The
   projector's unique constraint still rejects a duplicate that slipped through.
3. The event is acknowledged by Kafka (acks=all) before we say 202. If that fails, the Redis
   reservation is released and the caller gets "unavailable, retry" and nothing is claimed.

The registration id is derived from (NIK hash, Idempotency-Key) when a key is given, so a client
that timed out and retries with the same key ends with exactly one registration even if the first
attempt did reach Kafka, and the status token (derived from the id) is the same in both answers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from gelombang.admission import Refusal
from gelombang.contact import ContactSecrets, LinkExpired, LinkInvalid, OtpCheck
from gelombang.events import (
    REGISTRATIONS_CONTACT_CONFIRMED,
    REGISTRATIONS_SUBMITTED,
    VERIFICATION_REQUESTS,
    Channel,
    ContactCodeResendRequested,
    ContactConfirmed,
    Event,
    RegistrationSubmitted,
)
from gelombang.metrics import DEDUPE_HITS, DEPENDENCY_ERRORS, REGISTRATIONS_ACCEPTED
from gelombang.pii import PiiCipher
from services.registration.schemas import RegistrationRequest

T = TypeVar("T")


class DependencyUnavailable(Exception):
    """A fast-path store (Redis, the Postgres claim lookup) did not answer in time."""


class NikReservations(Protocol):
    async def reserve(self, nik_hash: str, registration_id: str) -> str | None:
        """Reserve the NIK for this id; return None if reserved now, else the current holder."""

    async def overwrite(self, nik_hash: str, registration_id: str) -> None: ...

    async def release(self, nik_hash: str, registration_id: str) -> None: ...


class ClaimLedger(Protocol):
    async def holder_of(self, nik_hash: str) -> str | None: ...


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    registration_id: str


class IdempotencyStore(Protocol):
    async def get(self, key: str) -> StoredAnswer | None: ...

    async def put(self, key: str, answer: StoredAnswer) -> None: ...


class Publisher(Protocol):
    async def publish(self, topic: str, key: bytes, event: Event) -> None: ...


@dataclass(frozen=True)
class Accepted:
    registration_id: str
    status_token: str
    replayed: bool = False


@dataclass(frozen=True)
class AlreadyRegistered:
    pass


@dataclass(frozen=True)
class IdempotencyKeyReused:
    """The same Idempotency-Key came with a different body: refusing protects the first answer."""


@dataclass(frozen=True)
class Refused:
    """The sign-up guard said no (limits per address or NIK, proof of work); nothing was sent."""

    refusal: Refusal


Outcome = Accepted | AlreadyRegistered | IdempotencyKeyReused | Refused


@dataclass(frozen=True)
class Collaborators:
    cipher: PiiCipher
    reservations: NikReservations
    ledger: ClaimLedger
    idempotency: IdempotencyStore
    publisher: Publisher


def fingerprint(request: RegistrationRequest) -> str:
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def registration_id_for(cipher: PiiCipher, nik_hash: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    digest = cipher.keyed_digest("registration-id", nik_hash, idempotency_key)
    return str(uuid.UUID(bytes=digest[:16], version=4))


def build_event(
    request: RegistrationRequest,
    registration_id: str,
    nik_hash: str,
    cipher: PiiCipher,
    channel: Channel,
) -> RegistrationSubmitted:
    personal = {
        "nik": request.nik,
        "full_name": request.full_name,
        "birth_date": request.birth_date.isoformat(),
        "gender": request.gender,
        "email": request.email,
        "phone": request.phone,
    }
    return RegistrationSubmitted(
        registration_id=uuid.UUID(registration_id),
        nik_hash=nik_hash,
        nik_last4=request.nik[-4:],
        pii=cipher.seal_json(personal, bound_to=registration_id),
        province_code=request.province_code,
        regency_code=request.regency_code,
        employment_status=request.employment_status,
        receives_social_aid=request.receives_social_aid,
        channel=channel,
        has_email=request.email is not None,
        has_phone=request.phone is not None,
    )


async def register(
    request: RegistrationRequest,
    idempotency_key: str | None,
    deps: Collaborators,
    channel: Channel = "api",
    guard: Awaitable[Refusal | None] | None = None,
) -> Outcome:
    """Raises ``gelombang.kafka.PublishFailed`` when Kafka did not take the event.

    ``guard`` is the public lane's sign-up check (``gelombang.admission.SignUpGuard.check``);
    it runs alongside the lookups and its refusal comes before any other answer.
    """
    body_fingerprint = fingerprint(request)
    nik_hash = deps.cipher.nik_hash(request.nik)
    registration_id = registration_id_for(deps.cipher, nik_hash, idempotency_key)

    # The lookups do not depend on each other, so they go out together: the Redis ones share
    # one pipeline (gelombang.coalesce) and the claim query runs meanwhile, instead of a round
    # trip each in a row. The reservation is therefore taken before we know whether this
    # sign-up goes ahead; it is given back below whenever nothing gets published for it.
    answers = await asyncio.gather(
        _nothing() if guard is None else guard,
        _degrade(_stored_answer(deps.idempotency, idempotency_key), "redis", "idem_get"),
        _degrade(deps.reservations.reserve(nik_hash, registration_id), "redis", "reserve"),
        _degrade(deps.ledger.holder_of(nik_hash), "postgres", "claim_lookup"),
        return_exceptions=True,
    )
    guarded, stored_answer, reservation, claim = answers
    reserved_here = reservation == (True, None)
    try:
        refusal = _settled(guarded)
        _, stored = _settled(stored_answer)
        _, holder = _settled(reservation)
        _, claimed_by = _settled(claim)
    except BaseException:
        if reserved_here:
            await _release(deps, nik_hash, registration_id)
        raise

    if refusal is not None:
        if reserved_here:
            await _release(deps, nik_hash, registration_id)
        return Refused(refusal)

    if stored is not None:
        if stored.fingerprint != body_fingerprint:
            # Another body under this key: its NIK (and so its id) may differ from the first.
            if reserved_here and stored.registration_id != registration_id:
                await _release(deps, nik_hash, registration_id)
            return IdempotencyKeyReused()
        # A replay. Same body, same NIK and key, so the same id: a reservation just taken
        # (Redis had forgotten the NIK) is the right one to keep.
        token = deps.cipher.status_token(stored.registration_id)
        return Accepted(stored.registration_id, token, replayed=True)

    if holder is not None and holder != registration_id:
        DEDUPE_HITS.labels("redis").inc()
        return AlreadyRegistered()

    if claimed_by is not None and claimed_by != registration_id:
        DEDUPE_HITS.labels("postgres").inc()
        if reserved_here:
            # Redis had forgotten this NIK (flushed, evicted): teach it again.
            await _degrade(deps.reservations.overwrite(nik_hash, claimed_by), "redis", "heal")
        return AlreadyRegistered()

    event = build_event(request, registration_id, nik_hash, deps.cipher, channel)
    try:
        await deps.publisher.publish(REGISTRATIONS_SUBMITTED, nik_hash.encode(), event)
    except Exception:
        if reserved_here:
            await _release(deps, nik_hash, registration_id)
        raise

    if idempotency_key is not None:
        answer = StoredAnswer(body_fingerprint, registration_id)
        await _degrade(deps.idempotency.put(idempotency_key, answer), "redis", "idem_put")
    REGISTRATIONS_ACCEPTED.labels(request.province_code, channel).inc()
    return Accepted(registration_id, deps.cipher.status_token(registration_id))


def _settled(answer: T | BaseException) -> T:
    """One answer from ``gather(..., return_exceptions=True)``: raised if it is an error."""
    if isinstance(answer, BaseException):
        raise answer
    return answer


async def _nothing() -> None:
    return None


async def _stored_answer(store: IdempotencyStore, key: str | None) -> StoredAnswer | None:
    return None if key is None else await store.get(key)


async def _release(deps: Collaborators, nik_hash: str, registration_id: str) -> None:
    await _degrade(deps.reservations.release(nik_hash, registration_id), "redis", "release")


async def _degrade(call: Awaitable[T], dependency: str, operation: str) -> tuple[bool, T | None]:
    """Run a fast-path call; (False, None) if its store is unavailable, (True, value) otherwise."""
    try:
        return True, await call
    except DependencyUnavailable:
        DEPENDENCY_ERRORS.labels(dependency, operation).inc()
        return False, None


# -- Contact confirmation ------------------------------------------------------------------
# The API confirms, the verification workers decide: a confirmation becomes a
# ContactConfirmed event, and the worker applies it once (a second click changes nothing).


class OnceGuard(Protocol):
    async def first_time(self, key: str, ttl_s: int) -> bool:
        """True the first time ``key`` is seen within ``ttl_s``."""

    async def forget(self, key: str) -> None: ...


class OtpChecker(Protocol):
    async def check(self, registration_id: str, digest: str) -> OtpCheck: ...


@dataclass(frozen=True)
class ContactCollaborators:
    secrets: ContactSecrets
    once: OnceGuard
    otps: OtpChecker
    publisher: Publisher


LinkOutcome = Literal["confirmed", "already_confirmed", "link_invalid", "link_expired"]


async def confirm_email_link(token: str, now: datetime, deps: ContactCollaborators) -> LinkOutcome:
    """Raises ``PublishFailed`` when the confirmation could not be made durable."""
    try:
        registration_id = deps.secrets.open_link(token, now)
    except LinkInvalid:
        return "link_invalid"
    except LinkExpired:
        return "link_expired"
    digest = hashlib.sha256(token.encode()).hexdigest()
    # Single use. If Redis is down we still confirm: the worker ignores repeats anyway.
    _, first = await _degrade(
        deps.once.first_time(f"link-used:{digest}", 49 * 3600), "redis", "once"
    )
    if first is False:
        return "already_confirmed"
    event = ContactConfirmed(registration_id=uuid.UUID(registration_id), method="email")
    try:
        await deps.publisher.publish(
            REGISTRATIONS_CONTACT_CONFIRMED, registration_id.encode(), event
        )
    except Exception:
        if first:
            # Let the person click again once Kafka is back.
            await _degrade(deps.once.forget(f"link-used:{digest}"), "redis", "once")
        raise
    return "confirmed"


async def confirm_otp(registration_id: str, code: str, deps: ContactCollaborators) -> OtpCheck:
    """Raises ``DependencyUnavailable`` (Redis) or ``PublishFailed`` (Kafka)."""
    result = await deps.otps.check(registration_id, deps.secrets.otp_digest(registration_id, code))
    if result == "ok":
        event = ContactConfirmed(registration_id=uuid.UUID(registration_id), method="sms")
        await deps.publisher.publish(
            REGISTRATIONS_CONTACT_CONFIRMED, registration_id.encode(), event
        )
    return result


async def request_new_code(
    registration_id: str, cooldown_s: int, deps: ContactCollaborators
) -> bool:
    """False if a code was requested too recently (one per cooldown, to limit SMS cost)."""
    answered, first = await _degrade(
        deps.once.first_time(f"otp-resend:{registration_id}", cooldown_s), "redis", "cooldown"
    )
    if answered and not first:
        return False
    event = ContactCodeResendRequested(registration_id=uuid.UUID(registration_id))
    await deps.publisher.publish(VERIFICATION_REQUESTS, registration_id.encode(), event)
    return True
