"""``bench-draw``: time the wave draw over synthetic registrations, in memory or stored.

In memory (the default), ``draw()`` alone is timed. ``--stored`` times issue 19's figure, "from the
stored pool to stored results": in a scratch database made for the run and dropped after it (also
on an error or ctrl-C), N synthetic verified people are bulk-loaded into the pool and the official
lists, then one wave is closed and drawn through :class:`Waves` and :class:`PostgresWaveStore`,
the code the admin API and CLI run, each step timed on its own.

The SQL here is the benchmark's own scaffolding (the scratch database and the synthetic pool);
everything that is timed goes through ``repository``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gelombang.migrations import apply_migrations
from gelombang.postgres import create_pool
from services.selection.draw import draw, seed_commitment
from services.selection.eligible_list import TIERS, EligibleEntry, EligibleList
from services.selection.progress import ProgressPrinter
from services.selection.quotas import load_weights, proportional_quotas
from services.selection.repository import PostgresWaveStore, pool_tiers_not_as_listed
from services.selection.service import DrawnWave, Wave, WaveRequest, Waves
from services.selection.settings import SelectionSettings

SCRATCH_DATABASE = "gelombang_drawbench"
# Only databases named like this are ever created or dropped here: a typo in --database must not
# be able to drop the stack's own database.
_SCRATCH_NAME = re.compile(r"gelombang_drawbench[a-z0-9_]{0,40}")
_MIGRATIONS = Path(__file__).parent / "migrations"
# deploy/local/stack.py: the cluster's superuser is reachable through this socket only (trust
# authentication; the directory belongs to the postgres user), and the services' role may not
# create databases.
_LOCAL_SOCKETS = Path(__file__).resolve().parents[2] / ".run" / "postgres" / "run"
_ADMIN_URL_ENV = "GELOMBANG_DRAWBENCH_ADMIN_URL"
_WAVE = 1
_BEACON_SOURCE = "bench-draw (synthetic beacon, not a public one)"
_BEACON_REFERENCE = "round 1"
# Rows per COPY while loading the synthetic pool: bounded memory, and a progress line each.
_LOAD_CHUNK = 250_000


# -- in memory --------------------------------------------------------------------------------


def synthetic_entries(
    rows: int, weights: dict[str, float], rng: random.Random
) -> list[EligibleEntry]:
    """Reproducible fake registrations: provinces by weight, tiers about 10% / 60% / 30%."""
    codes = sorted(weights)
    provinces = rng.choices(codes, weights=[weights[code] for code in codes], k=rows)
    tiers = rng.choices(TIERS, weights=(10, 60, 30), k=rows)
    return [
        EligibleEntry(str(uuid.UUID(int=rng.getrandbits(128), version=4)), province, tier)
        for province, tier in zip(provinces, tiers, strict=True)
    ]


def bench_seed(random_seed: int) -> str:
    return random.Random(random_seed).randbytes(32).hex()


def bench_beacon_value(random_seed: int) -> str:
    return hashlib.sha256(f"beacon {random_seed}".encode()).hexdigest()


def bench_in_memory(rows: int, total: int, random_seed: int) -> dict[str, object]:
    weights = load_weights()
    quotas = proportional_quotas(total, weights)
    started = time.perf_counter()
    entries = synthetic_entries(rows, weights, random.Random(random_seed))
    print(f"generated {rows} entries in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    started = time.perf_counter()
    result = draw(entries, quotas, total, bench_seed(random_seed), progress=ProgressPrinter())
    elapsed = time.perf_counter() - started
    print(f"{result.selected} selected, {result.waitlisted} waitlisted", file=sys.stderr)
    return {"rows": rows, "draw_s": round(elapsed, 3)}


# -- stored: the scratch database ---------------------------------------------------------------


def default_admin_url(app_url: str) -> str:
    """Who creates and drops the scratch database: $GELOMBANG_DRAWBENCH_ADMIN_URL, else the local
    stack's superuser through its socket, else the services' own role (needs CREATEDB)."""
    explicit = os.environ.get(_ADMIN_URL_ENV)
    if explicit:
        return explicit
    port = urlsplit(app_url).port or 5432
    if (_LOCAL_SOCKETS / f".s.PGSQL.{port}").exists():
        return f"postgresql://postgres@/postgres?host={_LOCAL_SOCKETS}&port={port}"
    return with_database(app_url, "postgres")


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


async def database_exists(admin_url: str, name: str) -> bool:
    admin = await asyncpg.connect(admin_url)
    try:
        found = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
    finally:
        await admin.close()
    return found is not None


@contextlib.asynccontextmanager
async def scratch_database(
    admin_url: str, app_url: str, name: str, migrations: Path = _MIGRATIONS
) -> AsyncIterator[str]:
    """A fresh database owned by the services' role, with the selection schema (``migrations``:
    a folder of some of them, to test a later one); its URL.

    Dropped on the way out whatever happened. One left by a killed run is dropped first: the name
    belongs to this benchmark.
    """
    if not _SCRATCH_NAME.fullmatch(name):
        raise ValueError(f"scratch database names match {_SCRATCH_NAME.pattern}, not {name!r}")
    owner = (urlsplit(app_url).username or "postgres").replace('"', '""')  # a quoted identifier
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    finally:
        await admin.close()
    try:
        url = with_database(app_url, name)
        # yoyo prints a summary on stdout, which is the JSON's; it goes with the progress.
        with contextlib.redirect_stdout(sys.stderr):
            status = await asyncio.to_thread(apply_migrations, url, migrations)
        if status != 0:
            raise RuntimeError("selection migrations failed on the scratch database")
        yield url
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        print(f"dropped scratch database {name}", file=sys.stderr)


# -- stored: the synthetic pool -----------------------------------------------------------------

_OTHER_STATUSES = ("job_seeker", "micro_business", "migrant_worker", "laid_off")
_CHANNELS = ("web", "api", "assisted")


class PoolRow(NamedTuple):
    """The columns of selection_pool that a verified registration fills."""

    registration_id: str  # asyncpg encodes a uuid from its text
    nik_hash: str
    province_code: str
    employment_status: str
    receives_social_aid: bool
    channel: str
    verified_at: datetime
    tier: int


@dataclass
class SyntheticLists:
    labour: list[tuple[str, str]]
    social_aid: list[tuple[str]]


def pool_records(
    entries: list[EligibleEntry], verified_from: datetime, lists: SyntheticLists
) -> Iterator[PoolRow]:
    """Pool rows whose tiers, as the lists give them, are the entries' tiers.

    Tier 1: on the labour-office list (some on the social-aid list too, or declaring aid: the
    labour list wins). Tier 2: no aid declared, not on the aid list. Tier 3: half declare aid,
    half are caught by the aid list. The NIK hash is a stand-in, unique per person.
    """
    for index, (registration_id, province_code, tier) in enumerate(entries):
        nik_hash = hashlib.sha256(registration_id.encode("ascii")).hexdigest()
        if tier == 1:
            lists.labour.append((nik_hash, "laid_off" if index % 2 else "furloughed"))
            if index % 7 == 0:
                lists.social_aid.append((nik_hash,))
            status = lists.labour[-1][1]
            declares_aid = index % 5 == 0
        elif tier == 2:
            status = _OTHER_STATUSES[index % len(_OTHER_STATUSES)]
            declares_aid = False
        else:
            status = _OTHER_STATUSES[index % len(_OTHER_STATUSES)]
            declares_aid = index % 2 == 0
            if not declares_aid:
                lists.social_aid.append((nik_hash,))
        yield PoolRow(
            registration_id,
            nik_hash,
            province_code,
            status,
            declares_aid,
            _CHANNELS[index % len(_CHANNELS)],
            verified_from + timedelta(seconds=index % 1_728_000),  # over 20 days
            tier,
        )


async def load_pool(
    conn: asyncpg.Connection,
    entries: list[EligibleEntry],
    verified_from: datetime,
    progress: ProgressPrinter,
) -> None:
    lists = SyntheticLists([], [])
    # The lists are filled as the pool rows are made, so the rows are made first and kept: a
    # million people joining weeks of imports, then each tier checked against the lists below.
    records = list(pool_records(entries, verified_from, lists))
    await conn.copy_records_to_table(
        "selection_labour_list", columns=["nik_hash", "status"], records=lists.labour
    )
    await conn.copy_records_to_table(
        "selection_social_aid_list", columns=["nik_hash"], records=lists.social_aid
    )
    for start in range(0, len(records), _LOAD_CHUNK):
        progress("loading the pool", start, len(records))
        chunk = records[start : start + _LOAD_CHUNK]
        await conn.copy_records_to_table("selection_pool", columns=PoolRow._fields, records=chunk)
    progress("loading the pool", len(records), len(records))
    # Bulk-loaded around add_to_pool, the rows carry the tiers the synthetic lists were made to
    # give: checked here, through the repository's own tier SQL, so the close draws the people
    # of the in-memory bench.
    wrong = await pool_tiers_not_as_listed(conn)
    if wrong:
        raise RuntimeError(f"{wrong} synthetic pool rows have a tier the lists do not give")


# -- stored: the timed steps --------------------------------------------------------------------


class _Meter:
    """Wall time, this process's CPU time and the database session's CPU time, read together.

    With the stack busy on the same two cores, wall times depend on everything else running; the
    CPU seconds of each side say where the work itself is. The session's are read from /proc, so
    only when Postgres runs on this machine.
    """

    def __init__(self, backend_pid: int) -> None:
        stat = Path(f"/proc/{backend_pid}/stat")
        comm = Path(f"/proc/{backend_pid}/comm")
        local = comm.exists() and comm.read_text().strip().startswith("postgres")
        self._stat = stat if local else None
        self._tick = os.sysconf("SC_CLK_TCK")

    def read(self) -> tuple[float, float, float]:
        database = float("nan")
        if self._stat is not None:
            # utime and stime, the 14th and 15th fields; the name before them may hold spaces.
            fields = self._stat.read_text().rsplit(")", 1)[1].split()
            database = (int(fields[11]) + int(fields[12])) / self._tick
        return time.perf_counter(), time.process_time(), database


@dataclass
class _Step:
    started: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ended: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def seconds(self, to: _Step | None = None) -> tuple[float, float, float]:
        """(wall, bench CPU, database CPU) from this step's start to its end (or ``to``'s)."""
        end = self.ended if to is None else to.ended
        wall, bench, database = (b - a for a, b in zip(self.started, end, strict=True))
        return wall, bench, database


class _TimedStore(PostgresWaveStore):
    """``PostgresWaveStore`` with the two storage steps of ``Waves.draw`` timed and shown."""

    def __init__(self, pool: asyncpg.Pool, meter: _Meter, progress: ProgressPrinter) -> None:
        super().__init__(pool, progress)
        self._meter = meter
        self.load = _Step()
        self.store = _Step()

    async def eligible(self, number: int) -> EligibleList:
        self._progress("loading the eligible list", 0, 0)
        self.load.started = self._meter.read()
        entries = await super().eligible(number)
        self.load.ended = self._meter.read()
        self._progress("loading the eligible list", len(entries), len(entries))
        return entries

    async def store_draw(self, drawn: DrawnWave) -> None:
        self.store.started = self._meter.read()
        await super().store_draw(drawn)
        self.store.ended = self._meter.read()
        stored = len(drawn.result.outcomes)
        self._progress("stored and committed", stored, stored)


# Run after the measurement, before the scratch database goes (tests look at what was stored):
# given the scratch database's pool and the drawn wave.
Inspect = Callable[[asyncpg.Pool, Wave], Awaitable[None]]


async def _settle(conn: asyncpg.Connection, admin_url: str) -> None:
    """Leave the loaded pool as weeks of sign-ups would have: vacuumed (hint bits set, planner
    statistics) and checkpointed. Otherwise the first statements to read it would write every page
    of it again (hint bits, logged in full with data checksums on) and flush the load's dirty
    pages, which no real close pays for."""
    await conn.execute("VACUUM ANALYZE")
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute("CHECKPOINT")
    except asyncpg.InsufficientPrivilegeError:
        print("(no CHECKPOINT: the admin role may not; timings include flushing)", file=sys.stderr)
    finally:
        await admin.close()


async def bench_stored(
    rows: int,
    total: int,
    random_seed: int,
    *,
    app_url: str,
    admin_url: str,
    database: str = SCRATCH_DATABASE,
    inspect: Inspect | None = None,
) -> dict[str, object]:
    weights = load_weights()
    entries = synthetic_entries(rows, weights, random.Random(random_seed))
    seed = bench_seed(random_seed)
    beacon_value = bench_beacon_value(random_seed)
    now = datetime.now(UTC)
    opens_at = now - timedelta(days=30)
    progress = ProgressPrinter()
    async with scratch_database(admin_url, app_url, database) as url:
        # One connection: every step runs on the same database session, whose CPU is metered.
        pool = await create_pool(url, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                await load_pool(conn, entries, opens_at, progress)
                await _settle(conn, admin_url)
                meter = _Meter(await conn.fetchval("SELECT pg_backend_pid()"))
            del entries  # the draw works from what the close froze, as a real one does
            store = _TimedStore(pool, meter, progress)
            waves = Waves(store, total, weights)
            await waves.create(WaveRequest(_WAVE, opens_at, now - timedelta(days=1), total))

            close = _Step(started=meter.read())
            due = now + timedelta(hours=1)
            commitment = seed_commitment(seed)
            closed = await waves.close(
                _WAVE, commitment, _BEACON_SOURCE, _BEACON_REFERENCE, due, now
            )
            close.ended = meter.read()
            progress("closed", closed.eligible_count or 0, rows)

            drawing = _Step(started=meter.read())
            drawn = await waves.draw(
                _WAVE, seed, _BEACON_REFERENCE, beacon_value, due, progress=progress
            )
            drawing.ended = meter.read()
            print(f"{drawn.selected} selected, {drawn.waitlisted} waitlisted", file=sys.stderr)
            if inspect is not None:
                await inspect(pool, drawn)
        finally:
            await pool.close()
    steps = {
        "close": close.seconds(),
        "load": store.load.seconds(),
        "draw": _Step(store.load.ended, store.store.started).seconds(),
        "store": store.store.seconds(),
    }
    wall = {name: round(seconds[0], 3) for name, seconds in steps.items()}
    stored_total = close.seconds()[0] + drawing.seconds()[0]
    # CPU seconds of each step: this process (the service's code and the draw) and the database
    # session (NaN where unknown), besides the wall-clock figures.
    cpu = {
        name: {"bench": round(seconds[1], 2), "db": round(seconds[2], 2)}
        for name, seconds in steps.items()
    }
    _print_cpu(cpu)
    return {
        "rows": rows,
        "close_s": wall["close"],
        "load_s": wall["load"],
        "draw_s": wall["draw"],
        "store_s": wall["store"],
        "stored_total_s": round(stored_total, 3),
        "cpu_s": cpu,
    }


def _print_cpu(cpu: dict[str, dict[str, float]]) -> None:
    print("CPU seconds by step (bench process / database session):", file=sys.stderr)
    for name, seconds in cpu.items():
        print(f"  {name:6} {seconds['bench']:7.2f} / {seconds['db']:7.2f}", file=sys.stderr)


def run_stored(
    rows: int, total: int, random_seed: int, *, app_url: str, admin_url: str, database: str
) -> dict[str, object]:
    """:func:`bench_stored` with SIGTERM handled like ctrl-C, so the scratch database goes."""

    async def main() -> dict[str, object]:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await bench_stored(
            rows, total, random_seed, app_url=app_url, admin_url=admin_url, database=database
        )

    return asyncio.run(main())


def print_figures(figures: dict[str, object]) -> None:
    print(json.dumps(figures))


def bench_draw(args: argparse.Namespace) -> int:
    """The ``bench-draw`` command: the figures on stdout, 130 if interrupted."""
    if not args.stored:
        print_figures(bench_in_memory(args.rows, args.total, args.random_seed))
        return 0
    app_url = SelectionSettings().database_url
    admin_url = args.admin_url or default_admin_url(app_url)
    try:
        figures = run_stored(
            args.rows,
            args.total,
            args.random_seed,
            app_url=app_url,
            admin_url=admin_url,
            database=args.database,
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        # ctrl-C or SIGTERM: the scratch database was dropped on the way out.
        print("interrupted", file=sys.stderr)
        return 130
    print_figures(figures)
    return 0
