"""The sign-up rules with fake collaborators: what a registrant and ops would notice."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from gelombang.admission import WindowLimit
from gelombang.events import REGISTRATIONS_SUBMITTED, RegistrationSubmitted
from gelombang.kafka import PublishFailed
from gelombang.pii import PiiCipher
from services.registration.decisions import Decisions, decide
from services.registration.schemas import RegistrationRequest
from services.registration.service import (
    Accepted,
    AlreadyRegistered,
    Collaborators,
    DependencyUnavailable,
    EdgeAnswer,
    Holding,
    IdempotencyKeyReused,
    Refused,
    Standing,
    StoredAnswer,
    TryAgainShortly,
    register,
)
from tests.citizens import valid_payload
from tests.unit.fakes import FakePublisher


@dataclass
class FakeReservations:
    held: dict[str, str] = field(default_factory=dict)
    # NIK hashes whose key the decider rewrote as its confirmed hint (no expiry).
    confirmed: set[str] = field(default_factory=set)
    # Seconds since a reservation was taken (all 0 unless a test ages one).
    age_s: dict[str, float] = field(default_factory=dict)
    down: bool = False

    async def reserve(self, nik_hash: str, registration_id: str) -> str | None:
        if self.down:
            raise DependencyUnavailable("redis")
        if nik_hash in self.held:
            return self.held[nik_hash]
        self.held[nik_hash] = registration_id
        return None

    async def inspect(self, nik_hash: str) -> Holding | None:
        if self.down:
            raise DependencyUnavailable("redis")
        if nik_hash not in self.held:
            return None
        return Holding(
            self.held[nik_hash], nik_hash in self.confirmed, self.age_s.get(nik_hash, 0.0)
        )

    async def take_over(self, nik_hash: str, holder: str, registration_id: str) -> bool:
        if self.held.get(nik_hash) != holder:
            return False
        self.held[nik_hash] = registration_id
        self.age_s[nik_hash] = 0.0
        return True


@dataclass
class FakeStandings:
    """The read model as the rare path sees it: registration id → standing."""

    known: dict[str, Standing] = field(default_factory=dict)
    down: bool = False
    asked: int = 0

    async def standing_of(self, registration_id: str) -> Standing | None:
        self.asked += 1
        if self.down:
            raise DependencyUnavailable("postgres")
        return self.known.get(registration_id)


@dataclass
class FakeIdempotency:
    answers: dict[str, StoredAnswer] = field(default_factory=dict)

    async def put(self, key: str, answer: StoredAnswer) -> None:
        self.answers[key] = answer


@dataclass
class FakeEdge:
    """The edge script's rules (services.registration.fast_path._EDGE) over the fakes' state."""

    reservations: FakeReservations
    idempotency: FakeIdempotency
    # Limits (by reason) that are full, and a script that fails outright.
    full: set[str] = field(default_factory=set)
    broken: bool = False

    async def admit(
        self,
        nik_hash: str,
        registration_id: str,
        idempotency_key: str | None,
        answer: StoredAnswer | None,
        limits: Sequence[WindowLimit],
    ) -> EdgeAnswer:
        if self.broken:
            raise RuntimeError("script bug")
        if self.reservations.down:
            raise DependencyUnavailable("redis")
        for index, limit in enumerate(limits):
            if limit.reason in self.full:
                return EdgeAnswer(limit_reached=(index, limit.limit, 0))
        if idempotency_key is not None and idempotency_key in self.idempotency.answers:
            stored = self.idempotency.answers[idempotency_key]
            if stored.registration_id == registration_id:
                self.reservations.held.setdefault(nik_hash, registration_id)
            return EdgeAnswer(stored=stored)
        holder = await self.reservations.reserve(nik_hash, registration_id)
        if holder is not None and holder != registration_id:
            return EdgeAnswer(holder=holder)
        if idempotency_key is not None and answer is not None:
            self.idempotency.answers[idempotency_key] = answer
            return EdgeAnswer(remembered=True)
        return EdgeAnswer()


@dataclass
class World:
    cipher: PiiCipher = field(default_factory=lambda: PiiCipher(b"h" * 32, b"e" * 32))
    reservations: FakeReservations = field(default_factory=FakeReservations)
    standings: FakeStandings = field(default_factory=FakeStandings)
    idempotency: FakeIdempotency = field(default_factory=FakeIdempotency)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    edge: FakeEdge | None = None

    def __post_init__(self) -> None:
        self.edge = FakeEdge(self.reservations, self.idempotency)

    @property
    def deps(self) -> Collaborators:
        assert self.edge is not None
        return Collaborators(
            self.cipher,
            self.edge.admit,
            self.reservations,
            self.standings,
            self.idempotency,
            self.publisher,
        )

    def registrations_decided(self) -> Decisions:
        """What the decider makes of everything published, from an empty store."""
        records = [
            e for _, _, e in self.publisher.published if isinstance(e, RegistrationSubmitted)
        ]
        return decide(records, {}, {})


def nik_limit(limit: int = 3) -> WindowLimit:
    return WindowLimit("nik_limit", "nik:x:10", "nik:x:9", 0.5, limit, 121, 60, now=630.0)


def request(**overrides: object) -> RegistrationRequest:
    return RegistrationRequest.model_validate(valid_payload(**overrides))


async def accepted(world: World, req: RegistrationRequest, key: str | None = None) -> Accepted:
    """Sign ``req`` up, which must be accepted."""
    outcome = await register(req, key, world.deps)
    assert isinstance(outcome, Accepted)
    return outcome


async def publish_fails(world: World, req: RegistrationRequest, key: str) -> None:
    """Sign ``req`` up while Kafka refuses the publish (the sign-up fails), then bring Kafka
    back."""
    world.publisher.failing = True
    with pytest.raises(PublishFailed):
        await register(req, key, world.deps)
    world.publisher.failing = False


async def test_accepted_signup_is_published_keyed_by_nik_hash_without_plaintext() -> None:
    world = World()
    req = request()
    outcome = await accepted(world, req)
    [(topic, key, event)] = world.publisher.published
    assert topic == REGISTRATIONS_SUBMITTED
    assert isinstance(event, RegistrationSubmitted)
    assert key == world.cipher.nik_hash(req.nik).encode()
    raw = event.to_bytes()
    for secret in (req.nik, req.full_name, str(req.email), str(req.phone)):
        assert secret.encode() not in raw
    personal = world.cipher.open_json(event.pii, bound_to=str(event.registration_id))
    assert personal["nik"] == req.nik
    assert event.nik_last4 == req.nik[-4:]
    assert world.cipher.check_status_token(outcome.registration_id, outcome.status_token)


async def test_second_signup_for_same_nik_is_refused_without_publishing() -> None:
    world = World()
    req = request()
    await accepted(world, req)
    assert isinstance(await register(req, None, world.deps), AlreadyRegistered)
    assert len(world.publisher.published) == 1


async def test_after_redis_was_flushed_a_repeat_passes_the_edge_for_the_log_to_refuse() -> None:
    # The edge is a hint; the decider refuses the second attempt from the log (decisions.py).
    world = World()
    req = request()
    first = await accepted(world, req)
    world.reservations.held.clear()  # FLUSHALL, or a Redis that lost its data
    second = await accepted(world, req)
    assert second.registration_id != first.registration_id
    assert len(world.publisher.published) == 2
    assert world.standings.asked == 0  # no read-model query on the sign-up path


async def test_a_confirmed_hint_answers_409_without_asking_the_read_model() -> None:
    world = World()
    req = request()
    await accepted(world, req)
    world.reservations.confirmed.add(world.cipher.nik_hash(req.nik))  # the decider's hint
    assert isinstance(await register(req, None, world.deps), AlreadyRegistered)
    assert world.standings.asked == 0
    assert len(world.publisher.published) == 1


async def test_an_unconfirmed_holder_that_the_log_accepted_is_409() -> None:
    world = World()
    req = request()
    first = await accepted(world, req)
    world.standings.known[first.registration_id] = "live"
    assert isinstance(await register(req, None, world.deps), AlreadyRegistered)


async def test_a_young_unknown_reservation_is_409_until_a_publish_could_have_landed() -> None:
    world = World()
    req = request()
    await register(req, None, world.deps)  # its record may still be on its way to Kafka
    nik_hash = world.cipher.nik_hash(req.nik)
    world.reservations.age_s[nik_hash] = 19.0
    assert isinstance(await register(req, None, world.deps), AlreadyRegistered)
    world.reservations.age_s[nik_hash] = 21.0  # it never got there: taken over
    await accepted(world, req)
    assert len(world.publisher.published) == 2


async def test_a_reservation_whose_sign_up_never_reached_the_log_is_taken_over() -> None:
    # The process was killed between reserve and publish: nothing in the log holds the NIK.
    world = World()
    req = request()
    nik_hash = world.cipher.nik_hash(req.nik)
    world.reservations.held[nik_hash] = "0b7d5b8e-2f0a-4c1e-9d3b-5a6f7e8d9c0b"
    world.reservations.age_s[nik_hash] = 21.0
    outcome = await accepted(world, req)
    assert world.reservations.held[nik_hash] == outcome.registration_id
    assert len(world.publisher.published) == 1


async def test_a_released_nik_asks_to_retry_while_the_decider_gives_it_back() -> None:
    world = World()
    req = request()
    first = await accepted(world, req)
    world.standings.known[first.registration_id] = "released"  # rejected: register again
    assert await register(req, None, world.deps) == TryAgainShortly(2)
    world.reservations.held.clear()  # the decider processed the release
    await accepted(world, req)


async def test_intake_continues_when_redis_and_postgres_are_down() -> None:
    world = World()
    world.reservations.down = True
    world.standings.down = True
    await accepted(world, request())
    assert len(world.publisher.published) == 1


async def test_a_timed_out_publish_keeps_the_reservation_and_the_retry_is_the_same_one() -> None:
    # aiokafka may still deliver a record after we stopped waiting: the NIK stays reserved,
    # and the retry with the same Idempotency-Key publishes the same registration id.
    world = World()
    req = request()
    await publish_fails(world, req, "key-0")
    nik_hash = world.cipher.nik_hash(req.nik)
    held_by = world.reservations.held[nik_hash]
    retry = await accepted(world, req, "key-0")
    assert retry.registration_id == held_by
    # Without the key a new attempt is another registration: the first holds the NIK.
    assert isinstance(await register(req, None, world.deps), AlreadyRegistered)


async def test_retry_with_same_idempotency_key_gets_the_first_answer() -> None:
    world = World()
    req = request()
    first = await accepted(world, req, "key-1")
    again = await accepted(world, req, "key-1")
    assert (again.registration_id, again.status_token) == (
        first.registration_id,
        first.status_token,
    )
    assert again.replayed
    # The answer is stored before the first publish, so a replay publishes again: the same
    # registration, which the decider accepts once.
    decided = world.registrations_decided()
    assert [str(a.registration_id) for a in decided.accepted] == [first.registration_id]


async def test_a_replay_after_a_failed_publish_makes_the_registration_durable() -> None:
    world = World()
    req = request()
    await publish_fails(world, req, "key-9")
    assert world.publisher.published == []
    retry = await accepted(world, req, "key-9")
    decided = world.registrations_decided()
    assert [str(a.registration_id) for a in decided.accepted] == [retry.registration_id]


async def test_idempotency_key_with_a_different_body_is_refused() -> None:
    world = World()
    payload = valid_payload()
    await register(RegistrationRequest.model_validate(payload), "key-2", world.deps)
    changed = RegistrationRequest.model_validate({**payload, "full_name": "Budi Susanto"})
    assert isinstance(await register(changed, "key-2", world.deps), IdempotencyKeyReused)


async def test_timed_out_attempt_and_its_retry_become_one_registration() -> None:
    # The first attempt reached Kafka but the answer was lost and Redis forgot the key: the
    # retry with the same Idempotency-Key must carry the same registration id (and token), so
    # the read model ends with one registration, not a duplicate.
    world = World()
    req = request()
    first = await accepted(world, req, "key-3")
    world.idempotency.answers.clear()
    world.reservations.held.clear()
    retry = await accepted(world, req, "key-3")
    assert retry.registration_id == first.registration_id
    assert retry.status_token == first.status_token
    ids = {json.loads(e.to_bytes())["registration_id"] for _, _, e in world.publisher.published}
    assert ids == {first.registration_id}


async def test_a_reused_key_with_another_nik_leaves_that_nik_free() -> None:
    # The reservation is taken alongside the idempotency lookup; when the key turns out to be
    # reused for another person, that person's NIK must not stay reserved by a sign-up that
    # never happened.
    world = World()
    first = valid_payload()
    await register(RegistrationRequest.model_validate(first), "key-4", world.deps)
    other = request()
    assert isinstance(await register(other, "key-4", world.deps), IdempotencyKeyReused)
    assert world.cipher.nik_hash(other.nik) not in world.reservations.held
    await accepted(world, other, "key-5")
    assert len(world.publisher.published) == 2


async def test_a_replay_after_redis_forgot_the_nik_keeps_it_reserved_for_the_same_person() -> None:
    world = World()
    payload = valid_payload()
    req = RegistrationRequest.model_validate(payload)
    first = await accepted(world, req, "key-6")
    world.reservations.held.clear()  # evicted; the idempotency answer survived
    again = await register(req, "key-6", world.deps)
    assert isinstance(again, Accepted) and again.replayed
    assert world.reservations.held == {world.cipher.nik_hash(req.nik): first.registration_id}
    # The same person under a new key is still one registration.
    world.standings.known[first.registration_id] = "live"
    assert isinstance(await register(req, "key-7", world.deps), AlreadyRegistered)


async def test_a_limit_reached_publishes_nothing_and_leaves_the_nik_free() -> None:
    world = World()
    req = request()
    limit = nik_limit()
    assert world.edge is not None
    world.edge.full.add("nik_limit")
    outcome = await register(req, "key-8", world.deps, limits=lambda nik_hash: (limit,))
    assert outcome == Refused(limit.refusal(3, 0))
    assert isinstance(outcome, Refused) and outcome.refusal.status == 429
    assert outcome.refusal.retry_after_s is not None and outcome.refusal.retry_after_s >= 1
    assert world.publisher.published == [] and world.reservations.held == {}
    assert world.idempotency.answers == {}

    world.edge.full.clear()
    outcome = await register(req, "key-8", world.deps, limits=lambda nik_hash: (limit,))
    assert isinstance(outcome, Accepted)


async def test_a_failing_edge_leaves_no_reservation_behind() -> None:
    world = World()
    req = request()
    assert world.edge is not None
    world.edge.broken = True
    with pytest.raises(RuntimeError):
        await register(req, None, world.deps)
    assert world.publisher.published == [] and world.reservations.held == {}
