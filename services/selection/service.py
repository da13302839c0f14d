"""Selection rules: tiers, wave quotas with returned seats, the wave life cycle, list imports.

Pure functions here; ``repository`` does the SQL and mirrors :func:`tier_for` and
:func:`eligible_for_wave` in its queries (the integration tests check they agree). The admin API
and the CLI both call :class:`Waves`, so the two can never drift apart.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from gelombang.nik import NikError, parse_nik
from services.selection.draw import (
    DrawResult,
    algorithm_version,
    draw,
    normalise_beacon_text,
    seed_commitment,
    validate_quotas,
)
from services.selection.eligible_list import EligibleEntry, frozen_list_sha256
from services.selection.progress import Progress
from services.selection.ranking import normalise_seed

WaveState = Literal["open", "closed", "drawn", "announced"]
ListKind = Literal["labour_office", "social_aid"]


class WaveError(Exception):
    """A refused admin action, with a stable code and a sentence an admin can act on.

    ``field`` names the request field at fault, when one is: the API reports it the way it reports
    a validation error, the CLI prints the sentence alone.
    """

    def __init__(
        self, code: str, message: str, status: int = 409, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.field = field


# -- tiers and the eligible list ---------------------------------------------------------------


def tier_for(on_labour_list: bool, on_social_aid_list: bool, declares_social_aid: bool) -> int:
    """1 = reported by a labour office; 2 = receives no other social aid; 3 = everyone else.

    Receiving aid counts when the official list says so or the person said so at sign-up
    (the list catches those who did not say).
    """
    if on_labour_list:
        return 1
    if not on_social_aid_list and not declares_social_aid:
        return 2
    return 3


@dataclass(frozen=True)
class PoolMember:
    registration_id: str
    province_code: str
    tier: int
    verified_at: datetime
    state: Literal["eligible", "selected", "revoked"] = "eligible"


def eligible_for_wave(members: Iterable[PoolMember], cutoff: datetime) -> list[EligibleEntry]:
    """Who is in a wave's draw: never selected, never revoked, verified by the cut-off.

    Waitlisted people of earlier waves are still ``eligible``: that is the carry-over.
    """
    return sorted(
        EligibleEntry(m.registration_id, m.province_code, m.tier)
        for m in members
        if m.state == "eligible" and m.verified_at <= cutoff
    )


def wave_quotas(
    base: Mapping[str, int], base_total: int, returned: Mapping[str, int]
) -> tuple[dict[str, int], int]:
    """Quotas after seats of revoked people come back, each to its own province."""
    quotas = dict(base)
    for province, seats in returned.items():
        quotas[province] = quotas.get(province, 0) + seats
    return quotas, base_total + sum(returned.values())


def revocation_due(announced_at: datetime, confirm_within_days: int, now: datetime) -> bool:
    return now >= announced_at + timedelta(days=confirm_within_days)


# -- the wave life cycle ------------------------------------------------------------------------


@dataclass(frozen=True)
class Wave:
    number: int
    opens_at: datetime
    closes_at: datetime
    base_quotas: dict[str, int]
    base_total: int
    returned_seats: dict[str, int]
    state: WaveState
    cutoff_at: datetime | None = None
    seed_commitment: str | None = None
    eligible_sha256: str | None = None
    eligible_count: int | None = None
    seed: str | None = None
    beacon_source: str | None = None
    beacon_reference: str | None = None
    beacon_due_at: datetime | None = None
    """When the announced reference's value is published; the draw is refused before."""
    beacon_value: str | None = None
    selected: int | None = None
    waitlisted: int | None = None
    algorithm_version: str | None = None
    created_at: datetime | None = None
    closed_at: datetime | None = None
    drawn_at: datetime | None = None
    announced_at: datetime | None = None
    filled: dict[str, dict[int, int]] = field(default_factory=dict)

    @property
    def quotas(self) -> dict[str, int]:
        return wave_quotas(self.base_quotas, self.base_total, self.returned_seats)[0]

    @property
    def total_quota(self) -> int:
        return wave_quotas(self.base_quotas, self.base_total, self.returned_seats)[1]


_NEXT_STATE: dict[str, tuple[WaveState, WaveState]] = {
    "close": ("open", "closed"),
    "draw": ("closed", "drawn"),
    "announce": ("drawn", "announced"),
}


def require_state(wave: Wave, action: str) -> WaveState:
    """The state ``action`` leads to, or WaveError saying why it cannot be done now."""
    before, after = _NEXT_STATE[action]
    if wave.state != before:
        raise WaveError(
            "wave_state",
            f"wave {wave.number} is {wave.state}; {action} needs a wave that is {before}",
        )
    return after


def check_new_wave(
    number: int, opens_at: datetime, closes_at: datetime, existing: Sequence[Wave]
) -> None:
    if closes_at <= opens_at:
        raise WaveError("wave_dates", "closes_at must be after opens_at", 422)
    if any(w.number == number for w in existing):
        raise WaveError("wave_exists", f"wave {number} already exists")
    later = [w.number for w in existing if w.number > number]
    if later:
        raise WaveError("wave_order", f"wave {number} would come before existing wave {max(later)}")


def check_can_close(wave: Wave, others: Sequence[Wave]) -> None:
    require_state(wave, "close")
    # Two waves closed but not drawn would both hold the same waitlisted people.
    pending = [w.number for w in others if w.number != wave.number and w.state == "closed"]
    if pending:
        raise WaveError(
            "wave_pending", f"wave {pending[0]} is closed but not drawn yet; draw it first"
        )
    earlier_open = [w.number for w in others if w.number < wave.number and w.state == "open"]
    if earlier_open:
        raise WaveError("wave_order", f"close wave {min(earlier_open)} first")


@dataclass(frozen=True)
class BeaconAnnouncement:
    """Published at close: which public random value the draw will mix in, and when it is due.

    Draw v2 (issue 19): the seed is committed before anyone can know this value, so whoever holds
    the frozen list cannot try seeds offline until a chosen registration wins.
    """

    source: str
    reference: str
    due_at: datetime


def _beacon_text(text: str | None, name: str, code: str, message: str) -> str:
    if text is None or not text.strip():
        raise WaveError(code, message, 422, field=name)
    try:
        return normalise_beacon_text(text, name)
    except ValueError as exc:
        raise WaveError("beacon_invalid", str(exc), 422, field=name) from exc


def announce_beacon(
    source: str | None, reference: str | None, due_at: datetime | None, now: datetime
) -> BeaconAnnouncement:
    """The beacon a close announces, or WaveError: a close names a source, a reference and the
    time that reference's value is published, which must be after the close."""
    reference = _beacon_text(
        reference,
        "beacon_reference",
        "beacon_reference_missing",
        "a close must name the beacon reference whose value the draw will mix in (for example "
        "a drand round number due after the close)",
    )
    source = _beacon_text(
        source,
        "beacon_source",
        "beacon_source_missing",
        "a close must name the public beacon the reference belongs to",
    )
    if due_at is None or due_at.tzinfo is None:
        raise WaveError(
            "beacon_due_missing",
            "a close must say when the beacon reference is due, as a date-time with a time zone",
            422,
            field="beacon_due_at",
        )
    if due_at <= now:
        # A value already public at close could have been known while the seed was chosen.
        raise WaveError(
            "beacon_due_not_after_close",
            f"the beacon reference must be due after the close ({now.isoformat()}); "
            f"{due_at.isoformat()} is not: its value could already be known",
            422,
            field="beacon_due_at",
        )
    return BeaconAnnouncement(source, reference, due_at)


def check_seed(wave: Wave, seed_hex: str) -> str:
    try:
        seed = normalise_seed(seed_hex)
    except ValueError as exc:
        raise WaveError("seed_invalid", str(exc), 422, field="seed") from exc
    if wave.seed_commitment != seed_commitment(seed):
        raise WaveError(
            "seed_mismatch",
            "sha256 of this seed is not the commitment published when the wave closed",
            422,
            field="seed",
        )
    return seed


def check_beacon_value(
    wave: Wave, reference: str | None, value: str | None, now: datetime
) -> str | None:
    """The beacon value to draw with (None: a wave closed before draw v2, drawn as v1), or
    WaveError.

    A value names its reference by being entered with it: the reference must be, character for
    character after trimming, the one published at close, and it must be due by ``now``.
    """
    if wave.beacon_reference is None:
        if reference is not None or value is not None:
            raise WaveError(
                "beacon_not_announced",
                f"wave {wave.number} closed without a beacon (before draw v2): it is drawn with "
                "gelombang-draw-v1 and takes no beacon",
                422,
                field="beacon_value" if value is not None else "beacon_reference",
            )
        return None
    announced = f"{wave.beacon_reference!r} of {wave.beacon_source}"
    if reference is None or not reference.strip():
        raise WaveError(
            "beacon_reference_missing",
            f"give the beacon reference with its value: wave {wave.number} announced {announced}",
            422,
            field="beacon_reference",
        )
    if reference.strip() != wave.beacon_reference:
        raise WaveError(
            "beacon_reference_mismatch",
            f"this value is for {reference.strip()!r}; wave {wave.number} announced {announced} "
            "at close, and only that reference's value can draw it",
            422,
            field="beacon_reference",
        )
    assert wave.beacon_due_at is not None  # stored with the reference by the close
    if now < wave.beacon_due_at:
        raise WaveError(
            "beacon_not_due",
            f"{wave.beacon_reference!r} is due at {wave.beacon_due_at.isoformat()}; nobody can "
            "know its value before then, so the draw waits until then",
            409,
            field="beacon_value",
        )
    return _beacon_text(
        value,
        "beacon_value",
        "beacon_value_missing",
        f"give the value {wave.beacon_source} published for {wave.beacon_reference!r}",
    )


def check_can_draw(
    wave: Wave,
    seed_hex: str,
    beacon_reference: str | None,
    beacon_value: str | None,
    now: datetime,
) -> tuple[str, str | None]:
    """(seed, beacon value or None for v1) to draw ``wave`` with, or WaveError saying why not."""
    if wave.state in ("drawn", "announced"):
        # Drawing again, with any other input, would let the operator pick among results.
        drawn_at = "" if wave.drawn_at is None else f" at {wave.drawn_at.isoformat()}"
        raise WaveError(
            "wave_already_drawn",
            f"wave {wave.number} was already drawn{drawn_at}; a wave is drawn once and its "
            "published result stands",
        )
    require_state(wave, "draw")
    seed = check_seed(wave, seed_hex)
    return seed, check_beacon_value(wave, beacon_reference, beacon_value, now)


@dataclass(frozen=True)
class WaveRequest:
    """A wave an admin asks for: ``quotas`` per province, or None to split ``total`` (None: the
    default total) by the population weights."""

    number: int
    opens_at: datetime
    closes_at: datetime
    total: int | None = None
    quotas: Mapping[str, int] | None = None


@dataclass(frozen=True)
class WaveClosing:
    """What a close publishes besides the frozen list's hash, and ``sha_of`` to take that hash
    (it refuses lines that are not in canonical form)."""

    number: int
    cutoff: datetime
    commitment: str
    beacon: BeaconAnnouncement
    sha_of: Callable[[bytes], str]


@dataclass(frozen=True)
class DrawnWave:
    """A draw's result with the inputs that reproduce it."""

    number: int
    seed: str
    beacon_value: str | None
    version: str
    result: DrawResult


class WaveStore(Protocol):
    """What :class:`Waves` needs from storage (``repository.PostgresWaveStore``)."""

    async def all_waves(self) -> list[Wave]: ...
    async def get(self, number: int) -> Wave | None: ...
    async def insert(self, wave: Wave) -> None:
        """Store a new wave: its number, dates and base quotas (it is open, with no seats
        returned yet)."""
    async def close(self, closing: WaveClosing) -> None:
        """Freeze the eligible list, as the canonical list's bytes, and publish its hash with the
        announcement. The ids must rise and be unique by construction (written in the order of a
        unique key): ``closing.sha_of`` leaves that to the store."""
    async def eligible(self, number: int) -> Sequence[EligibleEntry]: ...
    async def store_draw(self, drawn: DrawnWave) -> None: ...
    async def announce(self, number: int) -> int: ...


class Waves:
    def __init__(self, store: WaveStore, default_total: int, weights: Mapping[str, float]) -> None:
        self._store = store
        self._default_total = default_total
        self._weights = weights

    async def get(self, number: int) -> Wave:
        wave = await self._store.get(number)
        if wave is None:
            raise WaveError("wave_not_found", f"there is no wave {number}", 404)
        return wave

    async def list(self) -> list[Wave]:
        return await self._store.all_waves()

    async def create(self, request: WaveRequest) -> Wave:
        from services.selection.quotas import proportional_quotas

        number, total = request.number, request.total
        check_new_wave(number, request.opens_at, request.closes_at, await self._store.all_waves())
        if request.quotas is None:
            total = self._default_total if total is None else total
            chosen = proportional_quotas(total, self._weights)
        else:
            chosen = dict(request.quotas)
            total = sum(chosen.values()) if total is None else total
        try:
            validate_quotas(chosen, total)
        except ValueError as exc:
            raise WaveError("quota_invalid", str(exc), 422) from exc
        await self._store.insert(
            Wave(number, request.opens_at, request.closes_at, chosen, total, {}, "open")
        )
        return await self.get(number)

    async def close(
        self,
        number: int,
        commitment: str,
        beacon_source: str | None,
        beacon_reference: str | None,
        beacon_due_at: datetime | None,
        now: datetime,
    ) -> Wave:
        wave = await self.get(number)
        check_can_close(wave, await self._store.all_waves())
        commitment = commitment.strip().lower()
        if len(commitment) != 64 or any(c not in "0123456789abcdef" for c in commitment):
            raise WaveError(
                "commitment_invalid",
                "seed_commitment must be 64 hex characters",
                422,
                field="seed_commitment",
            )
        beacon = announce_beacon(beacon_source, beacon_reference, beacon_due_at, now)
        cutoff = min(now, wave.closes_at)
        await self._store.close(WaveClosing(number, cutoff, commitment, beacon, frozen_list_sha256))
        return await self.get(number)

    async def draw(
        self,
        number: int,
        seed_hex: str,
        beacon_reference: str | None,
        beacon_value: str | None,
        now: datetime,
        progress: Progress | None = None,
    ) -> Wave:
        wave = await self.get(number)
        seed, beacon = check_can_draw(wave, seed_hex, beacon_reference, beacon_value, now)
        entries = await self._store.eligible(number)
        # In a thread: the API process keeps answering (health, show) during a long draw.
        result = await asyncio.to_thread(
            draw, entries, wave.quotas, wave.total_quota, seed, progress, beacon
        )
        await self._store.store_draw(
            DrawnWave(number, seed, beacon, algorithm_version(beacon), result)
        )
        return await self.get(number)

    async def announce(self, number: int) -> tuple[Wave, int]:
        wave = await self.get(number)
        require_state(wave, "announce")
        queued = await self._store.announce(number)
        return await self.get(number), queued


# -- official lists -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListRow:
    nik_hash: str
    status: str | None  # laid_off / furloughed for the labour-office list


@dataclass(frozen=True)
class RowError:
    line: int
    code: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    def error_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["line", "code", "message"])
        for e in self.errors:
            writer.writerow([e.line, e.code, e.message])
        return out.getvalue()


LABOUR_STATUSES = ("laid_off", "furloughed")


def parse_list_rows(
    kind: ListKind, lines: Iterable[str], nik_hash: Callable[[str], str]
) -> Iterator[ListRow | RowError]:
    """Rows of an official list CSV, streamed: header ``nik`` (+ ``status`` for labour offices).

    Yields a ListRow or a RowError per data line (line numbers as an editor shows them). The
    NIK is hashed here and never kept.
    """
    reader = csv.reader(lines)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        yield RowError(1, "csv_empty", "the file is empty")
        return
    need = ["nik", "status"] if kind == "labour_office" else ["nik"]
    missing = [h for h in need if h not in header]
    if missing:
        yield RowError(1, "csv_missing_column", f"missing column(s): {', '.join(missing)}")
        return
    at = {name: header.index(name) for name in need}
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield RowError(line, "csv_row_width", f"expected {len(header)} columns, got {len(row)}")
            continue
        nik = row[at["nik"]].strip()
        try:
            parse_nik(nik)
        except NikError as exc:
            yield RowError(line, exc.code, f"NIK is not valid ({exc.code})")
            continue
        status: str | None = None
        if kind == "labour_office":
            status = row[at["status"]].strip().lower()
            if status not in LABOUR_STATUSES:
                yield RowError(line, "status_invalid", "status must be laid_off or furloughed")
                continue
        hashed = nik_hash(nik)
        if hashed in seen:
            yield RowError(line, "nik_duplicate_in_file", "this NIK is on an earlier line")
            continue
        seen.add(hashed)
        yield ListRow(hashed, status)


StoreChunk = Callable[[ListKind, Sequence[ListRow], ImportReport], Awaitable[None]]

# Rows per write while importing: bounded memory for lists of millions.
IMPORT_CHUNK = 5_000


async def import_list(
    kind: ListKind,
    lines: Iterable[str],
    nik_hash: Callable[[str], str],
    store: StoreChunk,
    progress: Callable[[int], object] | None = None,
) -> ImportReport:
    """Stream an official list into storage; bad rows are reported, good rows still count."""
    report = ImportReport()
    chunk: list[ListRow] = []
    for item in parse_list_rows(kind, lines, nik_hash):
        if isinstance(item, RowError):
            report.errors.append(item)
            if item.line == 1:  # header problems: nothing below can be read
                return report
        else:
            chunk.append(item)
        report.rows += 1
        if len(chunk) >= IMPORT_CHUNK:
            await store(kind, chunk, report)
            chunk = []
        if progress is not None:
            progress(1)
    await store(kind, chunk, report)
    return report
