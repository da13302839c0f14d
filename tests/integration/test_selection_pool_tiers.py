"""The tier each pool row keeps (migration selection-0005) is always the tier the old close
computed by joining the pool with the official lists: whichever comes first, a person joining the
pool or their NIK on an imported list, also when both happen at the same time. And the migration
moves every closed wave's frozen list over unchanged, hash for hash.

Postgres only (a scratch database per test, made and dropped like bench-draw's), no other service.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from gelombang.events import RegistrationVerified
from gelombang.migrations import apply_migrations
from gelombang.postgres import create_pool
from gelombang.settings import CommonSettings
from services.selection.draw import seed_commitment
from services.selection.drawbench import default_admin_url, scratch_database
from services.selection.eligible_list import EligibleEntry, canonical_eligible
from services.selection.repository import (
    PostgresWaveStore,
    add_to_pool,
    import_list_rows,
    pool_tiers_not_as_listed,
)
from services.selection.service import (
    BeaconAnnouncement,
    ImportReport,
    ListRow,
    Wave,
    WaveClosing,
)

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "selection" / "migrations"

# The close's join before selection-0005, word for word: the reference the stored tier must equal.
OLD_JOIN = """
    SELECT p.registration_id::text AS registration_id, p.province_code,
           CASE WHEN l.nik_hash IS NOT NULL THEN 1
                WHEN s.nik_hash IS NULL AND NOT p.receives_social_aid THEN 2
                ELSE 3 END AS tier
      FROM selection_pool p
      LEFT JOIN selection_labour_list l ON l.nik_hash = p.nik_hash
      LEFT JOIN selection_social_aid_list s ON s.nik_hash = p.nik_hash
     WHERE p.state = 'eligible'
     ORDER BY p.registration_id"""


def scratch_name(test: str) -> str:
    return f"gelombang_drawbench_tiers_{test}_{os.getpid()}"


@pytest.fixture
async def scratch_pool(settings: CommonSettings) -> AsyncIterator[asyncpg.Pool]:
    app_url = settings.database_url
    async with scratch_database(default_admin_url(app_url), app_url, scratch_name("pool")) as url:
        pool = await create_pool(url, min_size=1, max_size=8)
        try:
            yield pool
        finally:
            await pool.close()


def person(rng: random.Random, index: int) -> RegistrationVerified:
    return RegistrationVerified(
        registration_id=uuid.UUID(int=rng.getrandbits(128), version=4),
        nik_hash=hashlib.sha256(f"nik {index}".encode()).hexdigest(),
        province_code=rng.choice(["11", "31", "32", "35"]),
        regency_code="1101",
        employment_status="job_seeker",
        receives_social_aid=rng.random() < 0.3,
        channel="web",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


async def import_list(pool: asyncpg.Pool, kind: str, rows: list[ListRow]) -> None:
    assert kind in ("labour_office", "social_aid")
    await import_list_rows(pool, kind, rows, ImportReport())  # type: ignore[arg-type]


def labour(people: list[RegistrationVerified], status: str = "laid_off") -> list[ListRow]:
    return [ListRow(p.nik_hash, status) for p in people]


def social_aid(people: list[RegistrationVerified]) -> list[ListRow]:
    return [ListRow(p.nik_hash, None) for p in people]


async def stored_tiers(pool: asyncpg.Pool) -> list[tuple[str, str, int]]:
    rows = await pool.fetch(
        """SELECT registration_id::text, province_code, tier FROM selection_pool
            WHERE state = 'eligible' ORDER BY registration_id"""
    )
    return [tuple(r) for r in rows]


async def joined_tiers(pool: asyncpg.Pool) -> list[tuple[str, str, int]]:
    return [tuple(r) for r in await pool.fetch(OLD_JOIN)]


async def test_the_stored_tier_is_the_joined_tier_whatever_comes_first(
    scratch_pool: asyncpg.Pool,
) -> None:
    rng = random.Random(7)
    people = [person(rng, i) for i in range(600)]
    early, late, racing = people[:200], people[200:400], people[400:]

    # Lists imported before some people join, and after others have.
    await import_list(scratch_pool, "labour_office", labour(early[:40] + late[:40]))
    await import_list(scratch_pool, "social_aid", social_aid(early[30:90] + late[30:90]))
    await add_to_pool(scratch_pool, early)
    await import_list(scratch_pool, "social_aid", social_aid(early[100:150]))
    await import_list(scratch_pool, "labour_office", labour(early[140:160], "furloughed"))
    await add_to_pool(scratch_pool, late)
    # A re-import and a status change change no tier.
    await import_list(scratch_pool, "labour_office", labour(early[:40], "furloughed"))
    assert await stored_tiers(scratch_pool) == await joined_tiers(scratch_pool)

    # Joining and importing at the same time, in small pieces so that they interleave.
    jobs: list[Coroutine[object, object, object]] = []
    for start in range(0, len(racing), 10):
        piece = racing[start : start + 10]
        jobs.append(add_to_pool(scratch_pool, piece))
        jobs.append(import_list(scratch_pool, "labour_office", labour(piece[:3])))
        jobs.append(import_list(scratch_pool, "social_aid", social_aid(piece[2:6])))
    rng.shuffle(jobs)
    await asyncio.gather(*jobs)

    stored = await stored_tiers(scratch_pool)
    assert len(stored) == len(people)
    assert stored == await joined_tiers(scratch_pool)
    assert {tier for _, _, tier in stored} == {1, 2, 3}
    async with scratch_pool.acquire() as conn:
        assert await pool_tiers_not_as_listed(conn) == 0

    # The close freezes exactly what the old join gave, and publishes its hash.
    store = PostgresWaveStore(scratch_pool)
    now = datetime.now(UTC)
    opens_at, closes_at = now - timedelta(days=7), now - timedelta(days=1)
    await store.insert(Wave(1, opens_at, closes_at, {"32": 10}, 10, {}, "open"))
    expected = [EligibleEntry(*row) for row in await joined_tiers(scratch_pool)]
    await store.close(
        WaveClosing(
            1,
            now,
            seed_commitment("ab" * 32),
            BeaconAnnouncement("a beacon", "round 1", now + timedelta(hours=1)),
            lambda canonical: hashlib.sha256(canonical).hexdigest(),
        )
    )
    wave = await store.get(1)
    assert wave is not None and wave.eligible_count == len(people)
    assert list(await store.eligible(1)) == expected
    assert wave.eligible_sha256 == hashlib.sha256(canonical_eligible(expected)).hexdigest()
    results = [tuple(r) for r in await store.results(1)]
    assert results == [(*entry, "waitlisted") for entry in expected]


async def test_the_migration_keeps_tiers_and_every_published_list(
    settings: CommonSettings, tmp_path: Path
) -> None:
    app_url = settings.database_url
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS.glob("selection-000[1-4].*.sql")):
        shutil.copy(path, before / path.name)
    admin_url = default_admin_url(app_url)
    async with scratch_database(admin_url, app_url, scratch_name("migration"), before) as url:
        rng = random.Random(3)
        people = [person(rng, i) for i in range(50)]
        conn = await asyncpg.connect(url)
        try:
            await conn.executemany(
                """INSERT INTO selection_pool (registration_id, nik_hash, province_code,
                       employment_status, receives_social_aid, channel, verified_at)
                   VALUES ($1, $2, $3, 'job_seeker', $4, 'web', now())""",
                [(p.registration_id, p.nik_hash, p.province_code, p.receives_social_aid)
                 for p in people],
            )
            await conn.executemany(
                "INSERT INTO selection_labour_list (nik_hash, status) VALUES ($1, 'laid_off')",
                [(p.nik_hash,) for p in people[:10]],
            )
            await conn.executemany(
                "INSERT INTO selection_social_aid_list (nik_hash) VALUES ($1)",
                [(p.nik_hash,) for p in people[5:25]],
            )
            frozen = [EligibleEntry(*row) for row in await conn.fetch(OLD_JOIN)]
            published = hashlib.sha256(canonical_eligible(frozen)).hexdigest()
            # Wave 1 froze everyone; wave 2 closed with nobody eligible; wave 3 is still open.
            for number, state, digest in ((1, "drawn", published),
                                          (2, "closed", hashlib.sha256(b"").hexdigest()),
                                          (3, "open", None)):
                await conn.execute(
                    """INSERT INTO selection_waves (number, opens_at, closes_at, base_quotas,
                           base_total, state, eligible_sha256)
                       VALUES ($1, now() - interval '2 days', now(), '{}', 0, $2, $3)""",
                    number, state, digest,
                )
            await conn.executemany(
                """INSERT INTO selection_wave_eligible (wave, registration_id, province_code, tier)
                   VALUES (1, $1::uuid, $2, $3)""",
                frozen,
            )
            joined = await conn.fetch(OLD_JOIN)
        finally:
            await conn.close()

        assert await asyncio.to_thread(apply_migrations, url, MIGRATIONS) == 0

        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            assert await stored_tiers(pool) == [tuple(r) for r in joined]
            store = PostgresWaveStore(pool)
            assert list(await store.eligible(1)) == frozen
            assert list(await store.eligible(2)) == []
            assert await pool.fetchval(
                "SELECT encode(sha256(eligible), 'hex') FROM selection_wave_lists WHERE wave = 1"
            ) == published
            assert await pool.fetchval("SELECT count(*) FROM selection_wave_lists") == 2
        finally:
            await pool.close()
