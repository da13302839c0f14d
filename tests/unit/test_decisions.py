"""The decider's rule (services.registration.decisions): one NIK, one registration, from the log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from gelombang.events import NikReleased, RegistrationSubmitted
from services.registration.decisions import Decisions, Verdict, decide
from tests.citizens import registration_event_fields

Record = RegistrationSubmitted | NikReleased


def attempt(nik_hash: str, registration_id: uuid.UUID | None = None) -> RegistrationSubmitted:
    return RegistrationSubmitted(
        **registration_event_fields(
            nik_hash=nik_hash, registration_id=registration_id or uuid.uuid4()
        )
    )


def release(of: RegistrationSubmitted) -> NikReleased:
    return NikReleased(registration_id=of.registration_id, nik_hash=of.nik_hash, reason="x")


@dataclass
class Store:
    """What the projector keeps in Postgres: the claims and every verdict given."""

    claims: dict[str, uuid.UUID] = field(default_factory=dict)
    verdicts: dict[uuid.UUID, Verdict] = field(default_factory=dict)

    def apply(self, records: list[Record]) -> Decisions:
        ids = {r.registration_id for r in records}
        decided = decide(
            records,
            self.claims,
            {i: v for i, v in self.verdicts.items() if i in ids},
        )
        for event in decided.accepted:
            self.verdicts[event.registration_id] = "accepted"
        for event in decided.duplicates:
            self.verdicts[event.registration_id] = "duplicate"
        for nik_hash, holder in decided.changed_claims.items():
            if holder is None:
                self.claims.pop(nik_hash, None)
            else:
                self.claims[nik_hash] = holder
        return decided


def test_the_first_attempt_of_a_nik_is_accepted_and_later_ones_are_duplicates() -> None:
    first, second, third = attempt("h1"), attempt("h1"), attempt("h2")
    decided = decide([first, second, third], {}, {})
    assert decided.accepted == [first, third]
    assert decided.duplicates == [second]
    assert decided.claims == {"h1": first.registration_id, "h2": third.registration_id}


def test_a_stored_claim_makes_every_new_attempt_a_duplicate() -> None:
    holder = uuid.uuid4()
    later = attempt("h1")
    decided = decide([later], {"h1": holder}, {})
    assert decided.duplicates == [later] and decided.accepted == []
    assert decided.changed_claims == {}


def test_a_replayed_or_resent_attempt_keeps_its_verdict() -> None:
    first = attempt("h1")
    store = Store()
    store.apply([first, first])  # the same registration reached Kafka twice
    assert store.verdicts == {first.registration_id: "accepted"}
    again = store.apply([first])
    assert again.accepted == [] and again.duplicates == []
    assert store.claims == {"h1": first.registration_id}


def test_a_release_lets_the_next_attempt_in_and_never_frees_a_later_claim() -> None:
    first, second, third = attempt("h1"), attempt("h1"), attempt("h1")
    store = Store()
    store.apply([first, second])
    decided = store.apply([release(first), third])
    assert decided.accepted == [third]
    assert [r.registration_id for r in decided.released] == [first.registration_id]
    # The release arrives again (a re-sent outbox row): the new holder keeps the NIK.
    stale = store.apply([release(first)])
    assert stale.released == []
    assert store.claims == {"h1": third.registration_id}
    # A duplicate's release (never sent, but if it were) frees nothing either.
    assert store.apply([release(second)]).released == []
    assert store.verdicts[second.registration_id] == "duplicate"


# -- Any interleaving, any restart: the log's order decides, and decides the same -------------


@st.composite
def logs(draw: st.DrawFn) -> dict[int, list[Record]]:
    """Per-partition logs of attempts and releases, as the edge and the decider write them:
    several NIKs per partition, repeats of one NIK, re-sent attempts (the same registration
    twice), and releases of a NIK's then-current holder (a rejection that invites a new try)."""
    partitions: dict[int, list[Record]] = {}
    for partition in range(draw(st.integers(1, 3))):
        log: list[Record] = []
        live: dict[str, RegistrationSubmitted] = {}
        niks = [f"p{partition}-n{i}" for i in range(draw(st.integers(1, 3)))]
        for _ in range(draw(st.integers(1, 25))):
            nik_hash = draw(st.sampled_from(niks))
            choice = draw(st.sampled_from(["attempt", "attempt", "resend", "release"]))
            if choice == "release" and nik_hash in live:
                log.append(release(live.pop(nik_hash)))
            elif choice == "resend" and log:
                earlier = [r for r in log if isinstance(r, RegistrationSubmitted)]
                if earlier:
                    log.append(draw(st.sampled_from(earlier)))
            else:
                new = attempt(nik_hash)
                log.append(new)
                live.setdefault(nik_hash, new)
        partitions[partition] = log
    return partitions


def sequential(partitions: dict[int, list[Record]]) -> dict[uuid.UUID, Verdict]:
    store = Store()
    for log in partitions.values():
        for record in log:
            store.apply([record])
    return store.verdicts


@settings(deadline=None, max_examples=300)
@given(logs(), st.data())
def test_any_interleaving_of_consumers_batches_and_restarts_decides_the_same(
    partitions: dict[int, list[Record]], data: st.DataObject
) -> None:
    expected = sequential(partitions)
    store = Store()
    committed = dict.fromkeys(partitions, 0)
    position = dict(committed)
    crashes_left = 4
    # Consumers take batches from partitions in any order; a crash after storing but before
    # committing rewinds a partition to its last commit, and the batch is handled again.
    while any(position[p] < len(log) for p, log in partitions.items()):
        partition = data.draw(
            st.sampled_from([p for p, log in partitions.items() if position[p] < len(log)])
        )
        size = data.draw(st.integers(1, 6))
        batch = partitions[partition][position[partition] : position[partition] + size]
        store.apply(list(batch))
        position[partition] += len(batch)
        if data.draw(st.booleans()):
            committed[partition] = position[partition]
        elif crashes_left and data.draw(st.booleans()):
            crashes_left -= 1
            position[partition] = committed[partition]  # crash or rebalance: replay from here
    assert store.verdicts == expected
    # One NIK, one registration: per NIK, at most one accepted attempt between releases, and
    # exactly one accepted before the first release.
    for log in partitions.values():
        holders: dict[str, uuid.UUID] = {}
        seen: set[uuid.UUID] = set()
        for record in log:
            if isinstance(record, NikReleased):
                if holders.get(record.nik_hash) == record.registration_id:
                    del holders[record.nik_hash]
                continue
            if record.registration_id in seen:
                continue  # a re-sent attempt: decided the first time it came
            seen.add(record.registration_id)
            verdict = store.verdicts[record.registration_id]
            if record.nik_hash not in holders:
                assert verdict == "accepted"
                holders[record.nik_hash] = record.registration_id
            elif holders[record.nik_hash] != record.registration_id:
                assert verdict == "duplicate"
    # A rebuild from an empty store gives the same verdicts as the live one.
    rebuilt = Store()
    for log in partitions.values():
        rebuilt.apply(list(log))
    assert rebuilt.verdicts == store.verdicts
