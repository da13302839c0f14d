"""Sign-up logic: a fast duplicate hint, make the event durable, answer. No I/O of its own.

Collaborators are passed in (see the Protocols below) so the rules can be tested with fakes.
The edge is one Redis script, one command in a pipeline shared with concurrent sign-ups
(``SignUpEdge``): the guard's limits, the answer stored under the Idempotency-Key and the NIK
reservation are checked, and the reservation and this attempt's answer written, in one atomic
step. Its answers are judged in this order:

1. A retried request (same Idempotency-Key, same body) gets the first answer again. The answer
   is stored before the publish (that saves a second round trip per sign-up), so the first
   attempt may not have reached Kafka: a replay publishes the same registration again, and the
   decider keeps the first verdict of an id it has already decided.
2. The NIK reservation is a fast, friendly 409, and only a hint: Redis may be down, slow or
   empty, and then the sign-up goes ahead. The log decides (``services.registration.decisions``):
   a second attempt that got past the edge is refused there, and nothing downstream acts on it.
3. The event is acknowledged by Kafka (acks=all) before we say 202. If that fails, the caller
   gets "unavailable, retry"; the reservation is kept, because a publish that timed out may
   still land, and a retry with the same Idempotency-Key is the same registration anyway.

A reservation held by another registration is looked at more closely only on that rare path:
confirmed by the decider, live in the read model, or too young to tell → 409; its registration
was rejected and the NIK is being given back → "retry shortly"; unknown to the log and older
than a publish could take → taken over (its sign-up never reached Kafka: the process died in
between).

The registration id is derived from (NIK hash, Idempotency-Key) when a key is given, so a client
that timed out and retries with the same key ends with exactly one registration even if the first
attempt did reach Kafka, and the status token (derived from the id) is the same in both answers.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from gelombang.admission import Refusal, WindowLimit, WindowLimits
from gelombang.contact import ContactSecrets, LinkExpired, LinkInvalid, OtpCheck
from gelombang.events import (
    REGISTRATIONS_CONTACT_CONFIRMED,
    REGISTRATIONS_SUBMITTED,
    STATUS_LINK_REQUESTED,
    VERIFICATION_REQUESTS,
    Channel,
    ContactChangeRequested,
    ContactCodeResendRequested,
    ContactConfirmed,
    Event,
    RegistrationSubmitted,
    StatusLinkRequested,
)
from gelombang.metrics import DEDUPE_HITS, DEPENDENCY_ERRORS, REGISTRATIONS_ACCEPTED
from gelombang.pii import PiiCipher
from services.registration.schemas import (
    ContactChangeRequest,
    RegistrationRequest,
    StatusLinkRequest,
)

T = TypeVar("T")


class DependencyUnavailable(Exception):
    """A fast-path store (Redis, the read model on the rare path) did not answer in time."""


@dataclass(frozen=True)
class Holding:
    """Who holds a NIK's reservation, and whether the decider has confirmed it."""

    registration_id: str
    confirmed: bool
    age_s: float


class NikReservations(Protocol):
    """The rare path's view of a NIK's reservation (the edge takes reservations itself)."""

    async def inspect(self, nik_hash: str) -> Holding | None: ...

    async def take_over(self, nik_hash: str, holder: str, registration_id: str) -> bool:
        """Replace ``holder`` by ``registration_id`` if it still holds the NIK."""


# What the read model says of a reservation's holder: "live" (accepted, not given back),
# "released" (rejected with an invitation to register again: the decider is freeing the NIK),
# "duplicate" (the log refused it: it holds nothing).
Standing = Literal["live", "released", "duplicate"]


class Standings(Protocol):
    async def standing_of(self, registration_id: str) -> Standing | None: ...


@dataclass(frozen=True)
class StoredAnswer:
    fingerprint: str
    registration_id: str


class IdempotencyStore(Protocol):
    """Where an answer goes when the edge could not store it (Redis down, a taken-over NIK)."""

    async def put(self, key: str, answer: StoredAnswer) -> None: ...


@dataclass(frozen=True)
class EdgeAnswer:
    """What the edge's one round trip found (see ``SignUpEdge.admit``)."""

    # (index of the limit reached, this window's count, the previous window's count)
    limit_reached: tuple[int, int, int] | None = None
    # The answer stored under the Idempotency-Key by an earlier attempt.
    stored: StoredAnswer | None = None
    # Another registration holding the NIK's reservation (None: it is this one's now).
    holder: str | None = None
    # This attempt's answer is now stored under its Idempotency-Key.
    remembered: bool = False


# The sign-up edge (``fast_path.RedisSignUpEdge.admit``), called with the NIK's hash, the
# registration id, the Idempotency-Key, the answer to store under it and the limits. In one
# atomic step: check and count the limits (stop at the first reached); the answer stored under
# the key, if any (stop there); else reserve the NIK for the registration id and, if it is this
# one's, store the answer under the key. A callable, not an object: one lookup less per sign-up.
SignUpEdge = Callable[
    [str, str, str | None, StoredAnswer | None, Sequence[WindowLimit]], Awaitable[EdgeAnswer]
]


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
class TryAgainShortly:
    """Another registration of this NIK is still on its way through the log (or its NIK is
    being given back): in ``retry_after_s`` the answer will be a clear yes or no."""

    retry_after_s: int


@dataclass(frozen=True)
class IdempotencyKeyReused:
    """The same Idempotency-Key came with a different body: refusing protects the first answer."""


@dataclass(frozen=True)
class Refused:
    """The sign-up guard said no (limits per address or NIK, proof of work); nothing was sent."""

    refusal: Refusal


Outcome = Accepted | AlreadyRegistered | TryAgainShortly | IdempotencyKeyReused | Refused

# A reservation younger than this may belong to a sign-up whose publish is still in flight: the
# API waits 8 s for Kafka, and a record it gave up on can still be sent within the producer's
# 10 s request timeout. Older and unknown to the log, it belongs to a sign-up that never got
# there, and a new attempt may take it over.
TAKE_OVER_AFTER_S = 20.0
# How soon to come back while the NIK is being given back after a rejection.
RELEASE_RETRY_S = 2


@dataclass(frozen=True)
class Collaborators:
    cipher: PiiCipher
    edge: SignUpEdge
    reservations: NikReservations
    standings: Standings
    idempotency: IdempotencyStore
    publisher: Publisher
    take_over_after_s: float = TAKE_OVER_AFTER_S


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
    limits: Callable[[str], Sequence[WindowLimit]] | None = None,
) -> Outcome:
    """Raises ``gelombang.kafka.PublishFailed`` when Kafka did not take the event.

    ``limits`` gives the public lane's per-address and per-NIK limits for a NIK's hash
    (``gelombang.admission.SignUpGuard.limits``); the edge checks and counts them with its
    other lookups, and a limit reached comes before any other answer.
    """
    nik_hash = deps.cipher.nik_hash(request.nik)
    registration_id = registration_id_for(deps.cipher, nik_hash, idempotency_key)
    # The answer a retry with this key must get, stored by the edge as it reserves the NIK.
    answer = (
        None if idempotency_key is None else StoredAnswer(fingerprint(request), registration_id)
    )
    windows = () if limits is None else limits(nik_hash)
    _, edge = await _degrade(
        deps.edge(nik_hash, registration_id, idempotency_key, answer, windows),
        "redis",
        "edge",
    )
    if edge is None:
        # Redis did not answer: no limits, no hint, no stored answer. The log decides.
        edge = EdgeAnswer(holder=None, remembered=False)

    if edge.limit_reached is not None:
        window, current, previous = edge.limit_reached
        return Refused(windows[window].refusal(current, previous))

    if edge.stored is not None:
        if answer is None or edge.stored.fingerprint != answer.fingerprint:
            return IdempotencyKeyReused()
        # A replay: same key and body, so the same NIK and the same id. Its first attempt may
        # have failed to reach Kafka (the answer is stored before the publish), so the event
        # is published again; the decider keeps the first verdict of an id it has decided.
        registration_id = edge.stored.registration_id

    elif edge.holder is not None and edge.holder != registration_id:
        verdict = await _held_elsewhere(deps, nik_hash, registration_id)
        if verdict is not None:
            return verdict

    event = build_event(request, registration_id, nik_hash, deps.cipher, channel)
    # On failure the reservation stays: the record may still reach the log (see the docstring).
    await deps.publisher.publish(REGISTRATIONS_SUBMITTED, nik_hash.encode(), event)

    remember_now = edge.stored is None and not edge.remembered
    if idempotency_key is not None and answer is not None and remember_now:
        # The rare paths (Redis down, a reservation taken over): remember the answer now.
        await _degrade(deps.idempotency.put(idempotency_key, answer), "redis", "idem_put")
    token = deps.cipher.status_token(registration_id)
    if edge.stored is not None:
        return Accepted(registration_id, token, replayed=True)
    REGISTRATIONS_ACCEPTED.labels(request.province_code, channel).inc()
    return Accepted(registration_id, token)


async def _held_elsewhere(
    deps: Collaborators, nik_hash: str, registration_id: str
) -> AlreadyRegistered | TryAgainShortly | None:
    """The rare path: another registration holds the NIK's reservation. None = go ahead (the
    reservation was taken over)."""
    answered, holding = await _degrade(deps.reservations.inspect(nik_hash), "redis", "inspect")
    if not answered:
        DEDUPE_HITS.labels("redis").inc()
        return AlreadyRegistered()  # the fast path said "held"; that is all we can know now
    if holding is None:
        return TryAgainShortly(RELEASE_RETRY_S)  # given back since: the next try reserves it
    if holding.registration_id == registration_id:
        return None
    if holding.confirmed:
        DEDUPE_HITS.labels("redis").inc()
        return AlreadyRegistered()
    answered, standing = await _degrade(
        deps.standings.standing_of(holding.registration_id), "postgres", "standing"
    )
    if not answered:
        return TryAgainShortly(RELEASE_RETRY_S)
    if standing in ("live", "duplicate"):
        # A duplicate holding the key means the decider's hint write failed: the NIK's claim
        # is someone else's all the same.
        DEDUPE_HITS.labels("read_model").inc()
        return AlreadyRegistered()
    if standing == "released":
        return TryAgainShortly(RELEASE_RETRY_S)
    if holding.age_s < deps.take_over_after_s:
        # Most likely a double submit whose first attempt is on its way through the log (the
        # decider confirms within a moment); the fast path's answer stands.
        DEDUPE_HITS.labels("redis").inc()
        return AlreadyRegistered()
    # Unknown to the log and too old to be on its way: its sign-up never got there.
    answered, taken = await _degrade(
        deps.reservations.take_over(nik_hash, holding.registration_id, registration_id),
        "redis",
        "take_over",
    )
    if answered and not taken:
        return TryAgainShortly(RELEASE_RETRY_S)  # someone else changed it meanwhile
    return None


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
    async def check(self, registration_id: str, digest: str) -> OtpCheck:
        """Consumes the code when it is right ("ok")."""

    async def restore(self, registration_id: str, digest: str) -> bool:
        """Give back a code that ``check`` consumed; False if it has expired or been replaced."""


@dataclass(frozen=True)
class ContactCollaborators:
    secrets: ContactSecrets
    once: OnceGuard
    otps: OtpChecker
    publisher: Publisher


LinkOutcome = Literal[
    "confirmed", "already_confirmed", "link_invalid", "link_expired", "link_replaced"
]


class ContactVersions(Protocol):
    async def contact_version(self, registration_id: str) -> int | None:
        """How often the registration's contact was changed, as far as the read model knows
        (None: it does not know the registration). Raises ``DependencyUnavailable``."""


async def confirm_email_link(
    token: str,
    now: datetime,
    deps: ContactCollaborators,
    versions: ContactVersions | None = None,
) -> LinkOutcome:
    """Raises ``PublishFailed`` when the confirmation could not be made durable.

    A link to an address since replaced (issue 20) confirms nothing at the worker; ``versions``
    lets the person be told so here. The read model may lag behind a change: then the worker's
    refusal is the only one."""
    try:
        registration_id, version = deps.secrets.opened_link(token, now)
    except LinkInvalid:
        return "link_invalid"
    except LinkExpired:
        return "link_expired"
    if versions is not None:
        _, current = await _degrade(
            versions.contact_version(registration_id), "postgres", "contact_version"
        )
        if current is not None and current > version:
            return "link_replaced"
    digest = hashlib.sha256(token.encode()).hexdigest()
    # Single use. If Redis is down we still confirm: the worker ignores repeats anyway.
    _, first = await _degrade(
        deps.once.first_time(f"link-used:{digest}", 49 * 3600), "redis", "once"
    )
    if first is False:
        return "already_confirmed"
    # The link's contact version: a link to a contact since replaced confirms nothing.
    event = ContactConfirmed(
        registration_id=uuid.UUID(registration_id), method="email", contact_version=version
    )
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
    digest = deps.secrets.otp_digest(registration_id, code)
    result = await deps.otps.check(registration_id, digest)
    if result == "ok":
        event = ContactConfirmed(registration_id=uuid.UUID(registration_id), method="sms")
        try:
            await deps.publisher.publish(
                REGISTRATIONS_CONTACT_CONFIRMED, registration_id.encode(), event
            )
        except Exception:
            # The right code confirmed nothing: give it back, so that the person's retry once
            # Kafka is back is a confirmation and not "code expired".
            await _degrade(deps.otps.restore(registration_id, digest), "redis", "otp_restore")
            raise
    return result


class Counter(Protocol):
    async def count(self, key: str, ttl_s: int) -> int:
        """Add one to ``key`` (which lives ``ttl_s`` from its first count) and return the sum.
        Raises ``DependencyUnavailable``."""

    async def reset(self, key: str) -> None: ...


class ReadableCounter(Counter, Protocol):
    async def current(self, key: str) -> int:
        """The sum under ``key`` (0 if nothing was counted). Raises ``DependencyUnavailable``."""


@dataclass(frozen=True)
class SendLimit:
    """At most ``limit`` resends per registration: the verification worker sends a case's
    contact message at most its limit of times, the first included, and drops a request past
    it without a word. Counted here too, so the person is told instead (issue 20); the count
    lives as long as the case may wait for its contact, the worker's limit stays the backstop."""

    counter: ReadableCounter
    limit: int
    window_s: int


def resend_count_key(registration_id: str) -> str:
    return f"otp-resends:{registration_id}"


async def resends_left(registration_id: str, limit: SendLimit) -> int | None:
    """How many more times the status page may ask for the contact message (issue 20), from
    the count ``request_new_code`` keeps, so the page can say so before a refusal does. None
    when Redis cannot tell: the page then learns it from a refusal, as before."""
    answered, asked = await _degrade(
        limit.counter.current(resend_count_key(registration_id)), "redis", "resends_left"
    )
    if not answered or asked is None:
        return None
    # Refused requests count too (past the limit): never fewer than none left.
    return max(0, limit.limit - asked)


ResendOutcome = Literal["queued", "too_soon", "limit"]


async def request_new_code(
    registration_id: str,
    cooldown_s: int,
    deps: ContactCollaborators,
    limit: SendLimit | None = None,
) -> ResendOutcome:
    """One request per cooldown, to limit SMS cost, and at most ``limit`` in all. Redis down
    lets the request through: the worker's own limit still holds."""
    answered, first = await _degrade(
        deps.once.first_time(f"otp-resend:{registration_id}", cooldown_s), "redis", "cooldown"
    )
    if answered and not first:
        return "too_soon"
    if limit is not None:
        key = resend_count_key(registration_id)
        _, asked = await _degrade(limit.counter.count(key, limit.window_s), "redis", "resends")
        if asked is not None and asked > limit.limit:
            return "limit"
    event = ContactCodeResendRequested(registration_id=uuid.UUID(registration_id))
    await deps.publisher.publish(VERIFICATION_REQUESTS, registration_id.encode(), event)
    return "queued"


# -- Change of contact (issue 20) ----------------------------------------------------------
# A mistyped email address or number, replaced from the status page before it is confirmed.
# The API checks what it can answer at once (the read model's contact step, a cooldown, a
# number of changes) and hands the new contact on, sealed; the verification worker, which
# holds the case, applies it only while the case still waits for its contact.


class ContactStandings(Protocol):
    async def awaiting_contact(self, registration_id: str) -> bool | None:
        """True while the registration's contact is unconfirmed and its case open; False once
        not; None when the read model does not know it. Raises ``DependencyUnavailable``."""


@dataclass(frozen=True)
class ContactChangeCollaborators:
    cipher: PiiCipher
    standings: ContactStandings
    once: OnceGuard
    counter: Counter
    publisher: Publisher
    # At most ``limit`` changes per registration within ``window_s``, one per ``cooldown_s``.
    limit: int
    window_s: int
    cooldown_s: int


ChangeOutcome = Literal["queued", "closed", "too_soon", "limit"]


def change_count_key(registration_id: str) -> str:
    return f"contact-changes:{registration_id}"


async def request_contact_change(
    request: ContactChangeRequest, deps: ContactChangeCollaborators
) -> ChangeOutcome:
    """Raises ``gelombang.kafka.PublishFailed`` when Kafka did not take the change.

    Postgres or Redis down lets a change through (the worker applies it only to a case that
    waits for its contact, and counts changes itself); a registration known to be past its
    contact step, or not known yet, is refused."""
    registration_id = str(request.registration_id)
    answered, awaiting = await _degrade(
        deps.standings.awaiting_contact(registration_id), "postgres", "contact_standing"
    )
    if answered and not awaiting:
        return "closed"
    cooldown_key = f"contact-change:{registration_id}"
    answered, first = await _degrade(
        deps.once.first_time(cooldown_key, deps.cooldown_s), "redis", "cooldown"
    )
    if answered and not first:
        return "too_soon"
    key = change_count_key(registration_id)
    _, changes = await _degrade(deps.counter.count(key, deps.window_s), "redis", "changes")
    if changes is not None and changes > deps.limit:
        return "limit"
    contact = request.contact()
    event = ContactChangeRequested(
        registration_id=request.registration_id,
        kinds=tuple(kind for kind in ("email", "phone") if kind in contact),
        contact=deps.cipher.seal_json(contact, bound_to=registration_id),
    )
    try:
        await deps.publisher.publish(VERIFICATION_REQUESTS, registration_id.encode(), event)
    except Exception:
        # Nothing was changed: the person may try again at once.
        if first:
            await _degrade(deps.once.forget(cooldown_key), "redis", "cooldown")
        raise
    # A new contact gets its own sends (the worker starts counting again): so does the page.
    await _degrade(deps.counter.reset(resend_count_key(registration_id)), "redis", "resends")
    return "queued"


# -- Lost status link (issue 20) -----------------------------------------------------------
# "I lost my status link": a NIK and the contact given at sign-up. The API makes no lookup here:
# it counts the request against its limits and hands it on, so every admitted request costs the
# same and gets the same answer whether or not the NIK is registered. The verification workers,
# which hold each case's contact, send the link only when NIK and contact belong together.


class WindowCounter(Protocol):
    async def take(self, limits: Sequence[WindowLimit]) -> tuple[int, int, int] | None:
        """Check and count ``limits`` in one atomic step, stopping at the first one reached:
        (its index, this window's count, the previous window's count), counting none; None
        when all passed, each counted once more. Raises ``DependencyUnavailable``."""


# The status-link request's limits (``gelombang.admission.WindowLimits``: per NIK, where a
# person retrying is far below it and someone hammering one identity is not, and per client
# address) count under keys of their own, apart from the sign-up's.
STATUS_LINK_KEY_PREFIX = "status-link:"


@dataclass(frozen=True)
class StatusLinkCollaborators:
    cipher: PiiCipher
    limits: WindowLimits
    counter: WindowCounter
    publisher: Publisher


@dataclass(frozen=True)
class LinkRequested:
    """Handed on to the verification workers; the person is told the same in every case."""


async def request_status_link(
    request: StatusLinkRequest, client_ip: str, deps: StatusLinkCollaborators
) -> LinkRequested | Refused:
    """Raises ``gelombang.kafka.PublishFailed`` when Kafka did not take the request.

    Redis down means no limits for a while rather than no way back to one's status: the
    verification workers still send a registration at most a few links a day.
    """
    nik_hash = deps.cipher.nik_hash(request.nik)
    windows = deps.limits.limits(client_ip, nik_hash)
    _, reached = await _degrade(deps.counter.take(windows), "redis", "status_link_limits")
    if reached is not None:
        index, current, previous = reached
        return Refused(windows[index].refusal(current, previous))
    kind = request.contact_kind
    event = StatusLinkRequested(
        nik_hash=nik_hash,
        contact_kind=kind,
        contact_hash=deps.cipher.contact_hash(kind, request.contact),
    )
    await deps.publisher.publish(STATUS_LINK_REQUESTED, nik_hash.encode(), event)
    return LinkRequested()
