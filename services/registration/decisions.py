"""The decider's rule: one NIK, one registration, judged in the log's order. No I/O.

``registrations.submitted`` is keyed by the NIK's blind index, so every attempt of one NIK, and
every release of it, sits in one partition in the order the broker took them. Walking a batch in
that order against the stored claims gives each attempt its verdict exactly once:

- an attempt already decided keeps its verdict (a replay, or a retry that reached Kafka twice
  under the same Idempotency-Key, changes nothing);
- otherwise the first attempt of a NIK nobody holds is **accepted** and claims it; any other is a
  **duplicate**;
- a release frees the NIK only if the released registration still holds it (a re-sent release
  can never free a later claim).

Because a verdict depends only on what came before it in its partition, a crash, a rebalance or
a rebuild from an empty store (``python -m services.registration replay``) decides the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from uuid import UUID

from gelombang.events import NikReleased, RegistrationSubmitted

Verdict = Literal["accepted", "duplicate"]


@dataclass
class Decisions:
    """What one batch decided, for the store to apply in one transaction."""

    accepted: list[RegistrationSubmitted] = field(default_factory=list)
    duplicates: list[RegistrationSubmitted] = field(default_factory=list)
    # The claim of every NIK the batch touched, as it stands after the batch (None: free).
    claims: dict[str, UUID | None] = field(default_factory=dict)
    # Claims that changed hands, with the holder before the batch (None: it was free).
    previous_claims: dict[str, UUID | None] = field(default_factory=dict)
    # Releases that freed a claim (a stale release frees nothing and is not listed).
    released: list[NikReleased] = field(default_factory=list)

    @property
    def changed_claims(self) -> dict[str, UUID | None]:
        return {
            nik_hash: holder
            for nik_hash, holder in self.claims.items()
            if holder != self.previous_claims.get(nik_hash)
        }


def decide(
    records: Sequence[RegistrationSubmitted | NikReleased],
    claims: Mapping[str, UUID],
    verdicts: Mapping[UUID, Verdict],
) -> Decisions:
    """Decide ``records`` (in log order) given the stored ``claims`` (NIK hash → holder) and
    the stored ``verdicts`` of the batch's registrations."""
    out = Decisions()
    holders: dict[str, UUID | None] = {}
    decided: dict[UUID, Verdict] = dict(verdicts)

    def holder(nik_hash: str) -> UUID | None:
        if nik_hash not in holders:
            holders[nik_hash] = claims.get(nik_hash)
            out.previous_claims[nik_hash] = holders[nik_hash]
        return holders[nik_hash]

    for record in records:
        current = holder(record.nik_hash)
        if isinstance(record, NikReleased):
            if current == record.registration_id:
                holders[record.nik_hash] = None
                out.released.append(record)
            continue
        if record.registration_id in decided:
            continue
        if current is None:
            holders[record.nik_hash] = record.registration_id
            decided[record.registration_id] = "accepted"
            out.accepted.append(record)
        else:
            decided[record.registration_id] = "duplicate"
            out.duplicates.append(record)
    out.claims = holders
    return out


def nik_hashes(records: Iterable[RegistrationSubmitted | NikReleased]) -> list[str]:
    return sorted({r.nik_hash for r in records})
