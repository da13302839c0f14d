"""The NIK-check pipeline with fakes: calls stay in flight up to the cap with no round barrier,
answers are stored in one write per batch, and the registry's "wait" is honoured.

Nothing here depends on how fast the machine is: every wait polls for a state with a generous
deadline, and the fakes block on events the test releases.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from gelombang.events import Event
from gelombang.pii import PiiCipher
from services.verification.gateways import Unavailable
from services.verification.nik_checks import NikCheckConfig, NikCheckPipeline, split_batch
from services.verification.service import (
    DueNikCheck,
    NikChecked,
    NikRetry,
    RegistryResult,
)

CIPHER = PiiCipher(b"k" * 32, b"p" * 32)
DEADLINE_S = 20.0


def due_check(nik: str, attempts: int = 0) -> DueNikCheck:
    registration_id = uuid.uuid4()
    personal = {"nik": nik, "full_name": "Siti Rahayu", "birth_date": "1990-08-17"}
    return DueNikCheck(registration_id, CIPHER.seal_json(personal, str(registration_id)), attempts)


async def eventually(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for: {what}"
        await asyncio.sleep(0.005)


@dataclass
class FakeStore:
    due: list[DueNikCheck] = field(default_factory=list)
    claims: list[tuple[int, int]] = field(default_factory=list)  # (asked, given)
    writes: list[tuple[list[NikChecked], list[NikRetry]]] = field(default_factory=list)
    write_gate: asyncio.Event | None = None  # writes wait for it while set to an unset event
    failing_writes: int = 0
    on_claim: Callable[[], None] = lambda: None

    async def claim(self, limit: int) -> list[DueNikCheck]:
        given, self.due = self.due[:limit], self.due[limit:]
        self.claims.append((limit, len(given)))
        self.on_claim()
        return given

    async def record(
        self, checked: Sequence[NikChecked], retries: Sequence[NikRetry]
    ) -> Sequence[Event]:
        if self.write_gate is not None:
            await self.write_gate.wait()
        if self.failing_writes:
            self.failing_writes -= 1
            raise ConnectionResetError("database went away")
        self.writes.append((list(checked), list(retries)))
        return []

    def stored(self) -> list[uuid.UUID]:
        stored = [c.registration_id for checked, _ in self.writes for c in checked]
        return stored + [r.registration_id for _, retries in self.writes for r in retries]


@dataclass
class FakeRegistry:
    """Answers "match"; a NIK in ``slow`` or every NIK while ``gated`` waits for its release."""

    gated: bool = False
    slow: set[str] = field(default_factory=set)
    rate_limited: set[str] = field(default_factory=set)  # these answer 429 and ask us to wait
    held: bool = False
    polls_while_held: int = 0
    calls: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    gates: dict[str, asyncio.Event] = field(default_factory=dict)

    def wait_s(self) -> float:
        if self.held:
            self.polls_while_held += 1
            return 0.01  # asks again shortly: each poll must still find the registry closed
        return 0.0

    async def verify(self, nik: str, full_name: str, birth_date: str) -> RegistryResult:
        self.calls.append(nik)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if nik in self.rate_limited:
                self.held = True  # as the real client does with a 429's Retry-After
                raise Unavailable("http_429", retry_after_s=1.0)
            if self.gated or nik in self.slow:
                await self.gates.setdefault(nik, asyncio.Event()).wait()
            else:
                await asyncio.sleep(0)
            return "match"
        finally:
            self.in_flight -= 1

    def release(self, nik: str) -> None:
        self.gates.setdefault(nik, asyncio.Event()).set()

    def waiting(self) -> list[str]:
        return [nik for nik, gate in self.gates.items() if not gate.is_set()]


def store_with_due(
    count: int, write_gate: asyncio.Event | None = None, failing_writes: int = 0
) -> FakeStore:
    """A store holding ``count`` due checks, of NIKs 0, 1, …"""
    due = [due_check(f"{i:016d}") for i in range(count)]
    return FakeStore(due, write_gate=write_gate, failing_writes=failing_writes)


@asynccontextmanager
async def running(
    store: FakeStore, registry: FakeRegistry, **config: float
) -> AsyncIterator[NikCheckPipeline]:
    settings = {"concurrency": 4, "claim_min": 1, "write_linger_s": 0.0, "idle_s": 0.01}
    pipeline = NikCheckPipeline(
        store,
        registry,
        CIPHER,
        NikCheckConfig(**(settings | config)),  # type: ignore[arg-type]
        random.Random(1),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        yield pipeline
    finally:
        stop.set()
        for nik in registry.waiting():
            registry.release(nik)
        await asyncio.wait_for(task, DEADLINE_S)


async def test_a_slow_call_holds_back_only_its_own_slot() -> None:
    store = store_with_due(40)
    due = sorted(c.registration_id for c in store.due)
    registry = FakeRegistry(slow={"0000000000000000"})
    async with running(store, registry, concurrency=4):
        # The first call never answers while the other 39 are claimed, called and stored
        # around it: a round barrier would have stopped at the first claim.
        await eventually(lambda: len(store.stored()) == 39, "the other 39 stored")
        assert registry.waiting() == ["0000000000000000"]
        assert registry.max_in_flight <= 4
        registry.release("0000000000000000")
        await eventually(lambda: len(store.stored()) == 40, "the slow one stored too")
    assert sorted(store.stored()) == due


async def test_freed_slots_are_refilled_by_small_claims_up_to_the_cap() -> None:
    store = store_with_due(30)
    registry = FakeRegistry(gated=True)
    async with running(store, registry, concurrency=8, claim_min=2) as pipeline:
        await eventually(lambda: registry.in_flight == 8, "the cap filled")
        assert store.claims == [(8, 8)]
        registry.release(registry.waiting()[0])
        await eventually(lambda: pipeline.in_flight == 7, "one slot free")
        # One free slot is below claim_min: no claim query for a single check.
        await eventually(lambda: len(store.stored()) == 1, "its answer stored")
        assert store.claims == [(8, 8)]
        registry.release(registry.waiting()[0])
        # Two free: claimed at once while the other six calls are still in flight.
        await eventually(lambda: registry.in_flight == 8, "the cap filled again")
        assert store.claims == [(8, 8), (2, 2)]
        assert registry.max_in_flight == 8
        while registry.waiting():
            registry.release(registry.waiting()[0])
            await asyncio.sleep(0)
        await eventually(lambda: len(store.stored()) >= 16, "more answers stored")
    assert registry.max_in_flight == 8
    assert all(asked <= 8 for asked, _ in store.claims)


async def test_prefetched_checks_take_a_freed_slot_at_once_and_claims_come_in_batches() -> None:
    store = store_with_due(30)
    registry = FakeRegistry(gated=True)
    async with running(store, registry, concurrency=4, prefetch=4, claim_min=4) as pipeline:
        await eventually(lambda: registry.in_flight == 4, "the cap filled")
        assert store.claims == [(8, 8)]  # four called, four waiting for a slot
        registry.release(registry.waiting()[0])
        # The next claimed check is called as the slot frees, without a claim query.
        await eventually(lambda: len(registry.calls) == 5, "the fifth called")
        assert pipeline.in_flight == 4 and store.claims == [(8, 8)]
        for _ in range(3):
            registry.release(registry.waiting()[0])
            await eventually(lambda: registry.in_flight == 4, "slot refilled")
        # Four missing: one claim of four.
        await eventually(lambda: len(store.claims) == 2, "a second claim")
        assert store.claims == [(8, 8), (4, 4)]
    assert registry.max_in_flight == 4


async def test_answers_are_stored_in_one_write_per_batch() -> None:
    store = store_with_due(30, write_gate=asyncio.Event())
    registry = FakeRegistry()
    async with running(store, registry, concurrency=30, claim_min=1, write_batch=64):
        # The first write waits for the gate; meanwhile every other answer arrives.
        await eventually(
            lambda: len(registry.calls) == 30 and registry.in_flight == 0, "all 30 answered"
        )
        assert store.writes == []
        store.write_gate.set()  # type: ignore[union-attr]
        await eventually(lambda: len(store.stored()) == 30, "all 30 stored")
    # The first write (it may already hold all of them) and everything that queued behind it.
    assert len(store.writes) <= 2


async def test_a_batch_is_never_larger_than_write_batch_and_mixes_answers_and_retries() -> None:
    store = store_with_due(20, write_gate=asyncio.Event())
    registry = FakeRegistry()
    # Unreadable personal data stands in for a check without an answer: a retry.
    broken = DueNikCheck(uuid.uuid4(), "not sealed", 3)
    store.due.append(broken)
    async with running(store, registry, concurrency=21, write_batch=8):
        await eventually(
            lambda: len(registry.calls) == 20 and registry.in_flight == 0, "all 20 answered"
        )
        store.write_gate.set()  # type: ignore[union-attr]
        await eventually(lambda: len(store.stored()) == 21, "all 21 stored")
    assert all(len(c) + len(r) <= 8 for c, r in store.writes)
    assert len(store.writes) <= 4  # the first, waiting one, then 20 in batches of 8
    retries = [r for _, rs in store.writes for r in rs]
    assert [(r.registration_id, r.error, r.tried) for r in retries] == [
        (broken.registration_id, "unreadable", True)
    ]


async def test_the_registry_asking_to_wait_stops_claims_and_calls_until_it_is_over() -> None:
    store = store_with_due(12)
    registry = FakeRegistry(gated=True, rate_limited={"0000000000000003"})
    async with running(store, registry, concurrency=4):
        # Four claimed; one of them answers 429 with Retry-After and the registry holds off.
        await eventually(lambda: registry.held and len(registry.calls) == 4, "a 429")
        for nik in registry.waiting():
            registry.release(nik)  # the calls already on their way finish
        await eventually(lambda: len(store.stored()) == 4, "the four stored")
        polls = registry.polls_while_held
        await eventually(lambda: registry.polls_while_held >= polls + 5, "more polls held")
        # Slots were free all along, yet nothing was claimed or called while held.
        assert store.claims == [(4, 4)] and len(registry.calls) == 4
        registry.gated = False
        registry.held = False
        await eventually(lambda: len(store.stored()) == 12, "the rest checked after the wait")
    retries = [r for _, rs in store.writes for r in rs]
    assert [(r.error, r.tried) for r in retries] == [("http_429", True)]
    assert retries[0].delay_s >= 1.0  # not before the Retry-After


async def test_a_check_claimed_just_before_the_registry_asked_to_wait_is_put_back_untried() -> None:
    store = store_with_due(3)
    registry = FakeRegistry()

    def wait_comes_in_meanwhile() -> None:
        registry.held = True

    store.on_claim = wait_comes_in_meanwhile
    async with running(store, registry, concurrency=4):
        await eventually(lambda: len(store.stored()) == 3, "put back")
        assert registry.calls == []
        registry.held = False
    retries = [r for _, rs in store.writes for r in rs]
    assert {(r.error, r.tried) for r in retries} == {("held_off", False)}
    assert all(r.delay_s > 0 for r in retries)


async def test_unstored_answers_are_kept_and_claims_pause_while_they_pile_up() -> None:
    store = store_with_due(20, failing_writes=1_000_000)
    due = sorted(c.registration_id for c in store.due)
    registry = FakeRegistry()
    async with running(store, registry, concurrency=2, max_unwritten=6):
        await eventually(lambda: len(registry.calls) >= 6, "answers waiting")
        claims = len(store.claims)
        await asyncio.sleep(0.3)  # only to give a wrong implementation the chance to claim
        # At most a claim's worth past the bound, then nothing until the database is back.
        assert len(store.claims) == claims and len(registry.calls) <= 6 + 2
        store.failing_writes = 0
        await eventually(lambda: len(store.stored()) == 20, "all stored once it is back")
    assert sorted(store.stored()) == due


async def test_stopping_lets_calls_in_flight_finish_and_stores_their_answers() -> None:
    store = store_with_due(4)
    registry = FakeRegistry(gated=True)
    pipeline = NikCheckPipeline(
        store, registry, CIPHER, NikCheckConfig(concurrency=4, write_linger_s=0.0), random.Random()
    )
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    await eventually(lambda: registry.in_flight == 4, "four in flight")
    stop.set()
    await asyncio.sleep(0)
    assert not task.done()
    for nik in registry.waiting():
        registry.release(nik)
    await asyncio.wait_for(task, DEADLINE_S)
    assert len(store.stored()) == 4


async def test_stopping_puts_checks_still_waiting_for_a_slot_back_at_once() -> None:
    store = store_with_due(8)
    registry = FakeRegistry(gated=True)
    config = NikCheckConfig(concurrency=2, prefetch=2, claim_min=2, write_linger_s=0.0)
    pipeline = NikCheckPipeline(store, registry, CIPHER, config, random.Random())
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    await eventually(lambda: registry.in_flight == 2 and store.claims == [(4, 4)], "2 + 2")
    stop.set()
    # The two waiting for a slot are stored back while the two calls are still on their way.
    await eventually(lambda: len(store.stored()) == 2, "the waiting two put back")
    for nik in registry.waiting():
        registry.release(nik)
    await asyncio.wait_for(task, DEADLINE_S)
    retries = [r for _, rs in store.writes for r in rs]
    assert [(r.error, r.tried, r.delay_s) for r in retries] == [("shutdown", False, 0.0)] * 2
    assert len(store.stored()) == 4 and len(registry.calls) == 2


def test_a_batch_keeps_one_entry_per_case_and_an_answer_wins_over_a_retry() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    checked, retries = split_batch(
        [
            NikRetry(a, 1.0, "http_500"),
            NikChecked(a, "verified"),
            NikRetry(a, 2.0, "http_429"),
            NikRetry(b, 1.0, "http_500"),
            NikRetry(b, 3.0, "Timeout"),
        ]
    )
    assert checked == [NikChecked(a, "verified")]
    assert retries == [NikRetry(b, 3.0, "Timeout")]
