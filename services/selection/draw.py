"""The wave draw: a seeded, publicly re-runnable selection with province quotas and priority tiers.

Pure functions over in-memory data. The CLI and the service do the reading and writing, so anyone
holding the published ``eligible.csv``, quotas, revealed seed and beacon value can re-run exactly
this code, or the stdlib script in ``services/selection/README.md``, and get the same result.

The algorithm (``gelombang-draw-v2``; ``gelombang-draw-v1`` is the same without a beacon):

1. ``draw_key = HMAC-SHA256(key=bytes.fromhex(seed_hex), msg=beacon_value as UTF-8)`` (v1: the
   seed's 32 bytes), and ``rank = HMAC-SHA256(key=draw_key, msg=registration_id as ASCII)``,
   lowercase hex.
2. Everybody is ordered by ``(tier, rank)``; a rank tie (never seen in practice: it would take an
   HMAC collision) is broken by ``registration_id`` so that the order is total.
3. Provincial pass: walking that order, a person is selected ``via="province"`` while their
   province has seats left. Restricted to one province this is exactly "order the province by
   (tier, rank) and take the first ``quota``", done with one global sort instead of 38 small ones.
4. National remainder: ``total_quota - selected_so_far`` seats (seats provinces could not fill,
   plus any seats not assigned to a province at all) go to the not-yet-selected, again in global
   ``(tier, rank)`` order, ``via="remainder"``.
5. Everyone else is waitlisted.
"""

from __future__ import annotations

import gc
import hashlib
import operator
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain, compress, repeat
from typing import Literal, NamedTuple, overload

from services.selection.eligible_list import (
    PROVINCE_CODE,
    TIERS,
    ColumnSequence,
    EligibleEntry,
    validated_columns,
)
from services.selection.progress import Progress, silent
from services.selection.ranking import Ranks, draw_key, normalise_seed, rank_ids

ALGORITHM_VERSION = "gelombang-draw-v1"
# v2 mixes in a public beacon value nobody knew at close (issue 19): the operator can no longer
# try seeds offline against the frozen list, because the rank key is unknown until the beacon is.
ALGORITHM_VERSION_V2 = "gelombang-draw-v2"

# Beacon texts (source, reference, value) are published in the manifest and the value is fed to
# HMAC as UTF-8: refusing control and invisible characters keeps what people read equal to what was
# hashed. The bound only keeps a manifest line printable; real beacon values are far shorter.
BEACON_TEXT_MAX = 1000


class Outcome(NamedTuple):
    registration_id: str
    province_code: str
    tier: int
    rank: str
    outcome: Literal["selected", "waitlisted"]
    via: Literal["province", "remainder"] | None


_OUTCOME_OF: dict[str | None, Literal["selected", "waitlisted"]] = {
    "province": "selected",
    "remainder": "selected",
    None: "waitlisted",
}
_make_outcome = partial(tuple.__new__, Outcome)  # skips NamedTuple's Python-level __new__


class Outcomes(ColumnSequence[Outcome]):
    """A draw's outcomes, one per entry, kept as columns and made into ``Outcome`` tuples as read.

    1.5 M long-lived tuples took about 0.4 s to build inside the draw and as long again the first
    time the cyclic collector walked them (and some 150 MB); read once, as storing and exporting
    do, each tuple lives only until the next one is made.
    """

    __slots__ = ("_columns",)

    def __init__(
        self,
        registration_ids: list[str],
        province_codes: list[str],
        tiers: list[int],
        ranks: Sequence[str],
        vias: list[Literal["province", "remainder"] | None],
    ) -> None:
        self._columns = (registration_ids, province_codes, tiers, ranks, vias)

    def __len__(self) -> int:
        return len(self._columns[0])

    @overload
    def __getitem__(self, index: int) -> Outcome: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Outcome, ...]: ...

    def __getitem__(self, index: int | slice) -> Outcome | tuple[Outcome, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        ids, provinces, tiers, ranks, vias = self._columns
        via = vias[index]
        return Outcome(
            ids[index], provinces[index], tiers[index], ranks[index], _OUTCOME_OF[via], via
        )

    def __iter__(self) -> Iterator[Outcome]:
        ids, provinces, tiers, ranks, vias = self._columns
        labels = map(_OUTCOME_OF.__getitem__, vias)
        return map(_make_outcome, zip(ids, provinces, tiers, ranks, labels, vias, strict=True))

    def selected_ids(self) -> list[str]:
        """The registration ids of everyone selected, in the order the entries were given."""
        ids, _, _, _, vias = self._columns
        return list(compress(ids, vias))  # a selected person's via is a non-empty text

    def selected_rows(self, *leading: object) -> Iterator[tuple[object, ...]]:
        """Each selected person as a plain tuple ``(*leading, registration_id, province_code,
        tier, via)``, in the order the entries were given, for a bulk insert."""
        ids, provinces, tiers, _, vias = self._columns
        fixed = [repeat(value) for value in leading]  # endless: zip stops with the columns
        return compress(zip(*fixed, ids, provinces, tiers, vias, strict=False), vias)


@dataclass(frozen=True)
class DrawResult:
    outcomes: Outcomes
    """One per eligible entry, in the order the entries were given (which cannot affect who is
    selected). Pass entries sorted by registration_id, as the published list is, to get the order
    of ``result.csv``."""
    selected: int
    waitlisted: int
    selected_by_province: dict[str, int]
    """Every province that had an entry or a quota, including those with 0 selected."""
    selected_by_tier: dict[int, int]
    remainder_seats: int
    """Seats handed to the national remainder after the provincial pass (used or not)."""


def seed_commitment(seed_hex: str) -> str:
    """SHA-256, as lowercase hex, of the seed's lowercase hex *text* encoded as ASCII.

    Not of the 32 raw bytes: hashing the very string that will later be published lets anyone check
    the commitment with ``printf %s SEED | sha256sum``.
    """
    return hashlib.sha256(normalise_seed(seed_hex).encode("ascii")).hexdigest()


def normalise_beacon_text(text: str, name: str) -> str:
    """A beacon source, reference or value as it is stored and published: surrounding whitespace
    removed (a pasted line end must not change the draw), otherwise unchanged; or ValueError."""
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"{name} is empty")
    if len(stripped) > BEACON_TEXT_MAX:
        raise ValueError(f"{name} is longer than {BEACON_TEXT_MAX} characters")
    if not stripped.isprintable():
        raise ValueError(f"{name} contains control or invisible characters")
    return stripped


def algorithm_version(beacon_value: str | None) -> str:
    """The version a draw with (v2) or without (v1) a beacon value is published under."""
    return ALGORITHM_VERSION if beacon_value is None else ALGORITHM_VERSION_V2


def validate_quotas(quotas: Mapping[str, int], total_quota: int) -> None:
    if isinstance(total_quota, bool) or not isinstance(total_quota, int) or total_quota < 0:
        raise ValueError(f"total_quota must be a non-negative integer, got {total_quota!r}")
    for province_code, seats in quotas.items():
        if not isinstance(province_code, str) or not PROVINCE_CODE.fullmatch(province_code):
            raise ValueError(f"quota province_code {province_code!r} is not 2 digits")
        if isinstance(seats, bool) or not isinstance(seats, int) or seats < 0:
            raise ValueError(f"quota for {province_code} must be a non-negative integer")
    assigned = sum(quotas.values())
    if assigned > total_quota:
        # More provincial seats than the wave has: which province should lose seats is a policy
        # decision, not something the draw may guess.
        raise ValueError(f"province quotas sum to {assigned}, more than total_quota {total_quota}")


def draw(
    entries: Iterable[EligibleEntry],
    quotas: Mapping[str, int],
    total_quota: int,
    seed_hex: str,
    progress: Progress | None = None,
    beacon_value: str | None = None,
) -> DrawResult:
    """Run ``gelombang-draw-v1``, or ``gelombang-draw-v2`` when ``beacon_value`` is given (the
    rank key is then :func:`draw_key`; everything else is the same; see the README).

    A province with entries but no quota has quota 0: its people can still win remainder seats.
    A province with a quota but fewer entries leaves its unused seats to the remainder, as does
    ``total_quota - sum(quotas)``. The result does not depend on the order of ``entries``.
    """
    report: Progress = progress or silent
    key = draw_key(seed_hex, beacon_value)
    validate_quotas(quotas, total_quota)
    with _collector_paused():
        return _draw(entries, quotas, total_quota, key, report)


@contextmanager
def _collector_paused() -> Iterator[None]:
    # A draw allocates millions of tuples and strings and creates no reference cycles. With the
    # cyclic collector on, each young-generation pass rescans them, which measured at over a third
    # of a 1.5 M draw's time for nothing to collect.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _draw(
    entries: Iterable[EligibleEntry],
    quotas: Mapping[str, int],
    total_quota: int,
    key: bytes,
    report: Progress,
) -> DrawResult:
    # Input order is kept: sorting 1.5 M ids would cost seconds and the draw does not need it,
    # because every ordering decision below uses (tier, rank, registration_id) only.
    ids, provinces, tiers = validated_columns(entries, sort_by_id=False)
    count = len(ids)

    ranks = rank_ids(key, ids, report)

    report("sorting", 0, count)
    ordered = _in_draw_order(tiers, ranks, ids)
    report("sorting", count, count)

    report("province", 0, count)
    seats_left = {code: quotas.get(code, 0) for code in set(provinces) | set(quotas)}
    # A province ends the full walk with min(quota, its entries) seats; counting on that, the walk
    # can stop once they are all given, even where a province cannot fill its quota, and the order
    # past that point never has to be sorted.
    entries_in = Counter(provinces)
    provincial_seats = sum(min(seats, entries_in[code]) for code, seats in seats_left.items())
    via: list[Literal["province", "remainder"] | None] = [None] * count
    winners: list[int] = []
    walked: list[int] = []  # the head of the order, walked again by the remainder pass
    if provincial_seats:
        for index in ordered:
            walked.append(index)
            province_code = provinces[index]
            if seats_left[province_code] > 0:
                seats_left[province_code] -= 1
                via[index] = "province"
                winners.append(index)
                if len(winners) == provincial_seats:
                    break
    report("province", count, count)

    remainder_seats = total_quota - len(winners)
    report("remainder", 0, remainder_seats)
    # Everyone not yet selected gets a seat when there are at least as many seats as people.
    to_give = min(remainder_seats, count - len(winners))
    given = 0
    if to_give:
        for index in chain(walked, ordered):
            if via[index] is None:
                via[index] = "remainder"
                winners.append(index)
                given += 1
                if given == to_give:
                    break
    report("remainder", given, remainder_seats)

    outcomes = Outcomes(ids, provinces, tiers, ranks, via)
    by_province = Counter(map(provinces.__getitem__, winners))
    by_tier = Counter(map(tiers.__getitem__, winners))
    return DrawResult(
        outcomes=outcomes,
        selected=len(winners),
        waitlisted=count - len(winners),
        selected_by_province={code: by_province[code] for code in sorted(seats_left)},
        selected_by_tier={tier: by_tier[tier] for tier in TIERS},
        remainder_seats=remainder_seats,
    )


_HEX_DIGIT_TEXTS = "0123456789abcdef"


def _in_draw_order(tiers: list[int], ranks: Ranks, ids: list[str]) -> Iterator[int]:
    """Entry indices in (tier, rank, registration_id) order, sorted only as far as it is read.

    The walks stop once the seats are given, usually within the first tenth or so of the order,
    and sorting all 1.5 M entries took 1.5-2 s. So entries go into buckets by tier and first rank
    digit, in one pass, now; a bucket is sorted when the walk reaches it. Buckets in (tier, digit)
    order, each sorted in full, are exactly the global order: only speed depends on how evenly
    HMAC output spreads over the digits.
    """
    buckets: dict[int, dict[str, list[int]]] = {
        tier: {digit: [] for digit in _HEX_DIGIT_TEXTS} for tier in TIERS
    }
    for index, tier, digit in zip(range(len(ranks)), tiers, ranks.first_digits(), strict=True):
        buckets[tier][digit].append(index)
    return _sorted_buckets(
        [buckets[tier].pop(digit) for tier in TIERS for digit in _HEX_DIGIT_TEXTS], ranks, ids
    )


def _sorted_buckets(buckets: list[list[int]], ranks: Ranks, ids: list[str]) -> Iterator[int]:
    for members in buckets:
        # Flat rank+id strings compare as (rank, registration_id), faster than tuple keys.
        keys = list(map(operator.add, map(ranks.at, members), map(ids.__getitem__, members)))
        positions = sorted(range(len(members)), key=keys.__getitem__)
        del keys
        yield from map(members.__getitem__, positions)
