"""All SQL of the selection service."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any
from uuid import UUID

import asyncpg

from gelombang.events import SELECTION_DECIDED, RegistrationVerified, SelectionDecided
from gelombang.metrics import ONE_NIK_VIOLATIONS
from gelombang.outbox import Outbox
from gelombang.postgres import columns, report_second_registrations
from services.selection.eligible_list import EligibleList, eligible_from_canonical
from services.selection.progress import Progress
from services.selection.service import (
    DrawnWave,
    ImportReport,
    ListKind,
    ListRow,
    Wave,
    WaveClosing,
    WaveError,
)

# The series exists at 0 before the first violation, so the alert's increase() can see that one.
ONE_NIK_VIOLATIONS.labels("selection")

# asyncpg ships no type information; connections and pool proxies share this interface.
Connection = Any

OUTBOX = Outbox("selection_outbox", {"SelectionDecided": SELECTION_DECIDED})

# Rows per statement when streaming big sets (snapshots, decisions): bounded memory per round
# trip, few enough round trips for 1.5 M people.
_CHUNK = 20_000
# work_mem for the statements that join, sort or aggregate a whole wave (SET LOCAL: that
# transaction only).
_BULK_WORK_MEM = "256MB"
# Rows per COPY statement when storing a draw's winners: a progress report each.
_COPY_SLICE = 50_000
_SELECTED_COLUMNS = ["wave", "registration_id", "province_code", "tier", "via"]



def _tier_of(nik_hash: str, declares_aid: str) -> str:
    """The tier the lists give a person (SQL over the two column expressions named). Mirrors
    service.tier_for: 1 labour-office list, 2 no social aid (list or declared), 3 others."""
    return f"""CASE WHEN EXISTS (SELECT FROM selection_labour_list l
                                  WHERE l.nik_hash = {nik_hash}) THEN 1
                    WHEN NOT {declares_aid}
                         AND NOT EXISTS (SELECT FROM selection_social_aid_list s
                                          WHERE s.nik_hash = {nik_hash}) THEN 2
                    ELSE 3 END"""  # noqa: S608 (column names from this module)


# Each pool row keeps its tier (migration selection-0005) so that a close reads it instead of
# joining the pool with the lists. It must be what the lists say whenever anyone can look, so a
# pool insert and a list import never run at the same time: each would miss the other's
# uncommitted rows (a person joining while their NIK is being imported would keep the tier of
# before the import). Pool inserts share the lists' SHARE lock with one another; an import's
# SHARE ROW EXCLUSIVE lock waits for them and excludes them, and other imports, until it commits.
# Taken by its own statement, before the one that reads the lists: a statement sees what was
# committed when it started, and waiting for a lock inside it would not move that.
_LOCK_LISTS_FOR_POOL_INSERT = (
    "LOCK TABLE selection_labour_list, selection_social_aid_list IN SHARE MODE"
)
_LOCK_LISTS_FOR_IMPORT = (
    "LOCK TABLE selection_labour_list, selection_social_aid_list IN SHARE ROW EXCLUSIVE MODE"
)


# -- the pool ------------------------------------------------------------------------------------


async def add_to_pool(pool: asyncpg.Pool, events: Sequence[RegistrationVerified]) -> int:
    """Verified people join the pool; a replayed event changes nothing.

    One NIK, one place: a second registration of a NIK already in the pool would be a bug
    upstream (the decider and verification both stand before it); the unique index refuses it,
    and it is counted and logged rather than retried forever.
    """
    if not events:
        return 0
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_LOCK_LISTS_FOR_POOL_INSERT)
        rows = await conn.fetch(
            f"""
            INSERT INTO selection_pool (registration_id, nik_hash, province_code,
                                        employment_status, receives_social_aid, channel,
                                        verified_at, tier)
            SELECT i.*, {_tier_of("i.nik_hash", "i.receives_social_aid")}
              FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bool[],
                          $6::text[], $7::timestamptz[])
                   AS i(registration_id, nik_hash, province_code, employment_status,
                        receives_social_aid, channel, verified_at)
            ON CONFLICT DO NOTHING
            RETURNING registration_id
            """,  # noqa: S608 (constant fragment)
            *columns(
                events,
                "registration_id",
                "nik_hash",
                "province_code",
                "employment_status",
                "receives_social_aid",
                "channel",
                "occurred_at",
            ),
        )
        added = {row["registration_id"] for row in rows}
        await report_second_registrations(
            conn, "selection_pool", [e.registration_id for e in events], added, "selection"
        )
    return len(added)


async def pool_by_province_and_tier(pool: asyncpg.Pool) -> list[tuple[str, int, int]]:
    rows = await pool.fetch(
        """SELECT province_code, tier, count(*) AS n FROM selection_pool
            WHERE state = 'eligible' GROUP BY 1, 2"""
    )
    return [(r["province_code"], r["tier"], r["n"]) for r in rows]


async def pool_tiers_not_as_listed(conn: Connection) -> int:
    """How many pool rows keep a tier other than the one the lists give now: 0 unless something
    wrote the pool or the lists around :func:`add_to_pool` and :func:`import_list_rows`."""
    count: int = await conn.fetchval(
        f"""SELECT count(*) FROM selection_pool p
             WHERE p.tier <> {_tier_of("p.nik_hash", "p.receives_social_aid")}"""  # noqa: S608
    )
    return count


async def record_started(pool: asyncpg.Pool, registration_ids: Sequence[UUID]) -> int:
    """Selected people who started a training keep their seat for good."""
    status = await pool.execute(
        """UPDATE selection_pool SET confirmed_at = now()
            WHERE registration_id = ANY($1::uuid[]) AND state = 'selected'
              AND confirmed_at IS NULL""",
        list(registration_ids),
    )
    return int(status.rsplit(" ", 1)[-1])


async def revoke_expired(pool: asyncpg.Pool, confirm_within_days: int, now: datetime) -> int:
    """Withdraw seats of people selected in an announced wave who did not start in time.

    Their seats go back (per province) into the next wave closed after this; they never
    become eligible again. Each revocation is announced to the person.
    """
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """
            UPDATE selection_pool p SET state = 'revoked', revoked_at = $2
              FROM selection_waves w
             WHERE p.state = 'selected' AND p.confirmed_at IS NULL
               AND w.number = p.selected_wave AND w.state = 'announced'
               AND w.announced_at + make_interval(days => $1) <= $2
            RETURNING p.registration_id, p.selected_wave, p.province_code
            """,
            confirm_within_days,
            now,
        )
        await OUTBOX.add(
            conn,
            [
                SelectionDecided(
                    registration_id=r["registration_id"],
                    wave=r["selected_wave"],
                    province_code=r["province_code"],
                    outcome="revoked",
                )
                for r in rows
            ],
        )
    return len(rows)


# -- official lists ------------------------------------------------------------------------------


async def import_list_rows(
    pool: asyncpg.Pool, kind: ListKind, rows: Sequence[ListRow], report: ImportReport
) -> None:
    """Upsert one chunk; counts what was new, changed, or already there (re-import: all the
    last)."""
    if not rows:
        return
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_LOCK_LISTS_FOR_IMPORT)
        if kind == "labour_office":
            result = await conn.fetch(
                """
                WITH input AS (SELECT * FROM unnest($1::text[], $2::text[]) AS i(h, st)),
                     before AS (SELECT l.nik_hash, l.status FROM selection_labour_list l
                                  JOIN input ON input.h = l.nik_hash),
                     up AS (INSERT INTO selection_labour_list (nik_hash, status)
                            SELECT h, st FROM input
                            ON CONFLICT (nik_hash) DO UPDATE SET status = EXCLUDED.status,
                                                                 imported_at = now()
                            WHERE selection_labour_list.status IS DISTINCT FROM EXCLUDED.status
                            RETURNING nik_hash)
                SELECT (SELECT count(*) FROM up) AS written,
                       (SELECT count(*) FROM before) AS existed,
                       (SELECT count(*) FROM up JOIN before USING (nik_hash)) AS changed
                """,
                [r.nik_hash for r in rows],
                [r.status for r in rows],
            )
        else:
            result = await conn.fetch(
                """
                WITH input AS (SELECT * FROM unnest($1::text[]) AS i(h)),
                     before AS (SELECT s.nik_hash FROM selection_social_aid_list s
                                  JOIN input ON input.h = s.nik_hash),
                     up AS (INSERT INTO selection_social_aid_list (nik_hash)
                            SELECT h FROM input ON CONFLICT (nik_hash) DO NOTHING
                            RETURNING nik_hash)
                SELECT (SELECT count(*) FROM up) AS written,
                       (SELECT count(*) FROM before) AS existed, 0 AS changed
                """,
                [r.nik_hash for r in rows],
            )
        # The people on these rows keep the tier the lists now give them (HOT updates: no index
        # covers the tier). A statement of its own, so that it sees the rows just written.
        await conn.execute(
            f"""UPDATE selection_pool p SET tier = {_tier_of("p.nik_hash", "p.receives_social_aid")}
                 WHERE p.nik_hash = ANY($1::text[])
                   AND p.tier <> {_tier_of("p.nik_hash", "p.receives_social_aid")}""",  # noqa: S608
            [r.nik_hash for r in rows],
        )
    written, existed, changed = result[0]["written"], result[0]["existed"], result[0]["changed"]
    report.added += written - changed
    report.changed += changed
    report.unchanged += existed - changed


async def list_sizes(pool: asyncpg.Pool) -> dict[str, int]:
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM selection_labour_list) AS labour_office,
                  (SELECT count(*) FROM selection_social_aid_list) AS social_aid"""
    )
    assert row is not None
    return dict(row)


# -- waves ---------------------------------------------------------------------------------------

_WAVE_COLUMNS = """number, opens_at, closes_at, base_quotas, base_total, returned_seats, state,
    cutoff_at, seed_commitment, eligible_sha256, eligible_count, seed, beacon_source,
    beacon_reference, beacon_due_at, beacon_value, selected, waitlisted, algorithm_version,
    created_at, closed_at, drawn_at, announced_at"""


def _wave(row: asyncpg.Record, filled: dict[str, dict[int, int]] | None = None) -> Wave:
    data = dict(row)
    data["base_quotas"] = json.loads(data["base_quotas"])
    data["returned_seats"] = json.loads(data["returned_seats"])
    return Wave(**data, filled=filled or {})


class PostgresWaveStore:
    def __init__(self, pool: asyncpg.Pool, progress: Progress | None = None) -> None:
        """``progress`` hears how the long steps of a close and of storing a draw advance (the
        CLI prints it; the API has nobody to tell)."""
        self._pool = pool
        self._progress: Progress = progress or _silent

    async def all_waves(self) -> list[Wave]:
        rows = await self._pool.fetch(
            f"SELECT {_WAVE_COLUMNS} FROM selection_waves ORDER BY number"  # noqa: S608
        )
        return [_wave(r) for r in rows]

    async def get(self, number: int) -> Wave | None:
        row = await self._pool.fetchrow(
            f"SELECT {_WAVE_COLUMNS} FROM selection_waves WHERE number = $1",  # noqa: S608
            number,
        )
        if row is None:
            return None
        filled: dict[str, dict[int, int]] = {}
        for r in await self._pool.fetch(
            """SELECT province_code, tier, count(*) AS n FROM selection_wave_selected
                WHERE wave = $1 GROUP BY 1, 2 ORDER BY 1, 2""",
            number,
        ):
            filled.setdefault(r["province_code"], {})[r["tier"]] = r["n"]
        return _wave(row, filled)

    async def insert(self, wave: Wave) -> None:
        await self._pool.execute(
            """INSERT INTO selection_waves (number, opens_at, closes_at, base_quotas, base_total)
               VALUES ($1, $2, $3, $4, $5)""",
            wave.number,
            wave.opens_at,
            wave.closes_at,
            json.dumps(wave.base_quotas, sort_keys=True),
            wave.base_total,
        )

    async def close(self, closing: WaveClosing) -> None:
        """Freeze the eligible list and publish its hash with the seed commitment and the beacon
        announcement, atomically.

        Seats of people revoked since the last close come back into this wave's quotas.
        """
        number, cutoff, beacon = closing.number, closing.cutoff, closing.beacon
        async with self._pool.acquire() as conn, conn.transaction():
            state = await conn.fetchval(
                "SELECT state FROM selection_waves WHERE number = $1 FOR UPDATE", number
            )
            if state != "open":  # a concurrent close won the race
                raise RuntimeError(f"wave {number} is {state}")
            # revoked_at IS NOT NULL says nothing more than state = 'revoked' (a constraint makes
            # them equal); it lets the index of seats to return answer (migration selection-0006)
            # instead of a scan of the whole pool.
            returned = await conn.fetch(
                """WITH r AS (UPDATE selection_pool SET seat_returned_to = $1
                               WHERE state = 'revoked' AND revoked_at IS NOT NULL
                                 AND seat_returned_to IS NULL
                           RETURNING province_code)
                   SELECT province_code, count(*) AS n FROM r GROUP BY 1""",
                number,
            )
            # Room to sort 1.5 M people in memory (at the default 4 MB the sort spills to disk),
            # and a scan with that sort rather than the primary key's index: walking the index
            # visits the table in random order (3.2-3.6 s of database CPU against 1.2-1.4 s).
            await conn.execute(f"SET LOCAL work_mem = '{_BULK_WORK_MEM}'")
            await conn.execute("SET LOCAL enable_indexscan = off")
            # Scanned and sorted by two workers in halves, merged here: the default cost of
            # passing tuples between processes prices 1.5 M of them above one process's sort,
            # yet the parallel plan measured 1.07-1.19 s against 1.25-1.43 s (loaded 2 cores).
            await conn.execute("SET LOCAL parallel_setup_cost = 0")
            await conn.execute("SET LOCAL parallel_tuple_cost = 0")
            # COPY's CSV output of these columns, in id order, is the canonical list line by line
            # (a uuid is written in lowercase 8-4-4-4-12 form; anything that is not a canonical
            # line, such as a quoted value, is refused by sha_of): the list is hashed and stored as
            # it comes, never read back. Its ids rise and never repeat because they are the
            # primary key, in its order (uuid order is the order of the text): sha_of does not
            # compare them again; the draw does, as it reads the list.
            self._progress("freezing the eligible list", 0, 0)
            parts: list[bytes] = []

            async def collect(data: bytes) -> None:
                parts.append(data)

            await conn.copy_from_query(
                """SELECT registration_id, province_code, tier FROM selection_pool
                    WHERE state = 'eligible' AND verified_at <= $1
                    ORDER BY registration_id""",
                cutoff,
                output=collect,
                format="csv",
            )
            canonical = b"".join(parts)[:-1]  # every line ends in "\n"; the list does not
            parts.clear()
            count = canonical.count(b"\n") + 1 if canonical else 0
            self._progress("hashing the eligible list", 0, count)
            eligible_sha256 = closing.sha_of(canonical)
            self._progress("hashing the eligible list", count, count)
            self._progress("storing the eligible list", 0, count)
            await conn.execute(
                "INSERT INTO selection_wave_lists (wave, eligible) VALUES ($1, $2)",
                number,
                canonical,
            )
            self._progress("storing the eligible list", count, count)
            await conn.execute(
                """UPDATE selection_waves
                      SET state = 'closed', cutoff_at = $2, seed_commitment = $3,
                          eligible_sha256 = $4, eligible_count = $5, returned_seats = $6,
                          beacon_source = $7, beacon_reference = $8, beacon_due_at = $9,
                          closed_at = now()
                    WHERE number = $1""",
                number,
                cutoff,
                closing.commitment,
                eligible_sha256,
                count,
                json.dumps({r["province_code"]: r["n"] for r in returned}, sort_keys=True),
                beacon.source,
                beacon.reference,
                beacon.due_at,
            )

    async def eligible(self, number: int) -> EligibleList:
        async with self._pool.acquire() as conn:
            return await _eligible(conn, number)

    async def store_draw(self, drawn: DrawnWave) -> None:
        number, result = drawn.number, drawn.result
        async with self._pool.acquire() as conn, conn.transaction():
            state = await conn.fetchval(
                "SELECT state FROM selection_waves WHERE number = $1 FOR UPDATE", number
            )
            if state != "closed":
                # A concurrent draw stored its result first: that one stands.
                raise WaveError(
                    "wave_already_drawn",
                    f"wave {number} was already drawn; a wave is drawn once and its published "
                    "result stands",
                )
            # Only the winners are stored (migration selection-0004): the waitlisted are the rest
            # of the frozen list, and ranks are recomputed from the seed and beacon value. Plain
            # tuples made in C, ids as text (asyncpg encodes a uuid from its text); in slices, to
            # show progress.
            rows = result.outcomes.selected_rows(number)
            count = result.selected
            for start in range(0, count, _COPY_SLICE):
                self._progress("storing the selected", start, count)
                await conn.copy_records_to_table(
                    "selection_wave_selected",
                    columns=_SELECTED_COLUMNS,
                    records=islice(rows, _COPY_SLICE),
                )
            self._progress("storing the selected", count, count)
            # The winners are named from the result in hand rather than joined back from the
            # rows just copied: one pass over the pool in table order. The updates are HOT
            # (no index covers state or selected_wave, and pages keep room), so each rewrites
            # its row on its own page and touches no index.
            winners = result.outcomes.selected_ids()
            self._progress("marking the selected in the pool", 0, len(winners))
            await conn.execute(
                """UPDATE selection_pool SET state = 'selected', selected_wave = $1
                    WHERE registration_id = ANY($2::uuid[]) AND state = 'eligible'""",
                number,
                winners,
            )
            self._progress("marking the selected in the pool", len(winners), len(winners))
            await conn.execute(
                """UPDATE selection_waves SET state = 'drawn', seed = $2, selected = $3,
                          waitlisted = $4, algorithm_version = $5, beacon_value = $6,
                          drawn_at = now()
                    WHERE number = $1""",
                number,
                drawn.seed,
                result.selected,
                result.waitlisted,
                drawn.version,
                drawn.beacon_value,
            )

    async def announce(self, number: int) -> int:
        """Queue every person's decision, then mark the wave announced, in one transaction."""
        queued = 0
        async with self._pool.acquire() as conn, conn.transaction():
            state = await conn.fetchval(
                "SELECT state FROM selection_waves WHERE number = $1 FOR UPDATE", number
            )
            if state != "drawn":
                raise RuntimeError(f"wave {number} is {state}")
            async for chunk in _chunks(conn, _OUTCOMES_SQL, number):
                await OUTBOX.add(
                    conn,
                    [
                        SelectionDecided(
                            registration_id=r["registration_id"],
                            wave=number,
                            province_code=r["province_code"],
                            outcome=r["outcome"],
                        )
                        for r in chunk
                    ],
                )
                queued += len(chunk)
            await conn.execute(
                """UPDATE selection_waves SET state = 'announced', announced_at = now()
                    WHERE number = $1""",
                number,
            )
        return queued

    async def results(self, number: int) -> list[asyncpg.Record]:
        """Every person of the wave's frozen list with their outcome, by registration_id:
        ``registration_id`` (text), ``province_code``, ``tier``, ``outcome``. Ranks are not
        stored; :func:`services.selection.draw.ranks` recomputes them."""
        rows: list[asyncpg.Record] = await self._pool.fetch(_OUTCOMES_SQL, number)
        return rows


# Everyone on a wave's frozen list with their outcome, in registration_id order (the list's
# order): the selected are stored, everyone else is waitlisted. The list is cut into its lines
# and fields in SQL, so a cursor over it streams.
_OUTCOMES_SQL = """
    WITH listed AS (
        SELECT n, split_part(line, ',', 1) AS registration_id,
               split_part(line, ',', 2) AS province_code,
               split_part(line, ',', 3)::smallint AS tier
          FROM selection_wave_lists w,
               string_to_table(convert_from(w.eligible, 'UTF8'), E'\\n') WITH ORDINALITY
               AS t(line, n)
         WHERE w.wave = $1)
    SELECT e.registration_id, e.province_code, e.tier,
           CASE WHEN s.registration_id IS NULL THEN 'waitlisted' ELSE 'selected' END AS outcome
      FROM listed e
      LEFT JOIN selection_wave_selected s
        ON s.wave = $1 AND s.registration_id = e.registration_id::uuid
     ORDER BY e.n"""


async def _eligible(conn: Connection, number: int) -> EligibleList:
    # The canonical list's bytes, one value (migration selection-0005), cut into three columns by
    # position (draw.eligible_from_canonical, which also checks it is canonical). Read as rows of
    # a table, or as one row of three aggregated arrays, 1.5 M people took 1.2-1.6 s of database
    # CPU; as one value, about 0.1 s, and 0.4 s to cut in Python.
    canonical = await conn.fetchval(
        "SELECT eligible FROM selection_wave_lists WHERE wave = $1", number
    )
    return eligible_from_canonical(b"" if canonical is None else canonical)


def _silent(stage: str, done: int, total: int) -> None:
    pass


async def _chunks(conn: Connection, query: str, *args: object) -> AsyncIterator[list[Any]]:
    # A server-side cursor (inside the caller's transaction): memory stays at one chunk.
    cursor = await conn.cursor(query, *args)
    while rows := await cursor.fetch(_CHUNK):
        yield rows


# -- metrics -------------------------------------------------------------------------------------


async def wave_fill(pool: asyncpg.Pool, recent: int) -> list[asyncpg.Record]:
    """Selected per (wave, province, tier) for the most recent drawn waves."""
    rows: list[asyncpg.Record] = await pool.fetch(
        """SELECT r.wave, r.province_code, r.tier, count(*) AS n
             FROM selection_wave_selected r
            WHERE r.wave IN (SELECT number FROM selection_waves WHERE drawn_at IS NOT NULL
                              ORDER BY number DESC LIMIT $1)
            GROUP BY 1, 2, 3""",
        recent,
    )
    return rows
