"""bench-draw --stored against the running Postgres: a wave closed and drawn through the service's
code in a scratch database stores exactly what the draw computes in memory from the same people,
and the scratch database is gone afterwards, also when the run fails."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import asyncpg
import pytest

from gelombang.settings import REPO_ROOT, CommonSettings
from services.selection.draw import draw
from services.selection.drawbench import (
    bench_beacon_value,
    bench_seed,
    bench_stored,
    database_exists,
    default_admin_url,
    synthetic_entries,
)
from services.selection.eligible_list import eligible_sha256, validate_entries
from services.selection.quotas import load_weights, proportional_quotas
from services.selection.repository import PostgresWaveStore
from services.selection.service import Wave

pytestmark = pytest.mark.integration

ROWS = 5_000
TOTAL = 900  # fewer seats than people: some waitlisted, some national remainder seats
RANDOM_SEED = 11


def scratch_name(test: str) -> str:
    # Per test and per process: a bench run beside the tests uses its own scratch database.
    return f"gelombang_drawbench_test_{test}_{os.getpid()}"


async def test_the_stored_draw_is_the_in_memory_draw_of_the_same_people(
    settings: CommonSettings,
) -> None:
    app_url = settings.database_url
    admin_url = default_admin_url(app_url)
    name = scratch_name("same")
    seen: dict[str, object] = {}

    async def inspect(pool: asyncpg.Pool, wave: Wave) -> None:
        store = PostgresWaveStore(pool)
        seen["wave"] = wave
        seen["eligible"] = list(await store.eligible(wave.number))
        seen["results"] = [tuple(r) for r in await store.results(wave.number)]
        seen["selected_via"] = [
            tuple(r)
            for r in await pool.fetch(
                """SELECT registration_id::text, via FROM selection_wave_selected
                    WHERE wave = $1 ORDER BY registration_id""",
                wave.number,
            )
        ]
        seen["in_pool"] = await pool.fetchval(
            "SELECT count(*) FROM selection_pool WHERE state = 'selected' AND selected_wave = $1",
            wave.number,
        )
        seen["still_eligible"] = await pool.fetchval(
            "SELECT count(*) FROM selection_pool WHERE state = 'eligible'"
        )
        seen["database"] = await pool.fetchval("SELECT current_database()")

    figures = await bench_stored(
        ROWS,
        TOTAL,
        RANDOM_SEED,
        app_url=app_url,
        admin_url=admin_url,
        database=name,
        inspect=inspect,
    )

    weights = load_weights()
    entries = validate_entries(synthetic_entries(ROWS, weights, random.Random(RANDOM_SEED)))
    expected = draw(
        entries,
        proportional_quotas(TOTAL, weights),
        TOTAL,
        bench_seed(RANDOM_SEED),
        beacon_value=bench_beacon_value(RANDOM_SEED),
    )
    wave = seen["wave"]
    assert isinstance(wave, Wave)
    assert seen["database"] == name
    # The close froze exactly the synthetic people with their tiers, and published their hash.
    assert seen["eligible"] == entries
    assert wave.eligible_sha256 == eligible_sha256(entries)
    assert wave.eligible_count == ROWS
    # Every stored outcome is the in-memory draw's, person by person (ranks are not stored).
    assert seen["results"] == [
        (o.registration_id, o.province_code, o.tier, o.outcome) for o in expected.outcomes
    ]
    assert seen["selected_via"] == sorted(
        (o.registration_id, o.via) for o in expected.outcomes if o.via is not None
    )
    assert wave.algorithm_version == "gelombang-draw-v2"
    assert (wave.selected, wave.waitlisted) == (expected.selected, expected.waitlisted)
    assert 0 < expected.selected < ROWS
    assert seen["in_pool"] == expected.selected
    assert seen["still_eligible"] == expected.waitlisted

    assert set(figures) >= {"rows", "close_s", "load_s", "draw_s", "store_s", "stored_total_s"}
    assert figures["rows"] == ROWS
    steps = [figures[k] for k in ("close_s", "load_s", "draw_s", "store_s")]
    assert all(isinstance(s, float) and s >= 0 for s in steps)
    total = figures["stored_total_s"]
    assert isinstance(total, float)
    assert total >= sum(s for s in steps if isinstance(s, float))  # plus the wave reads

    assert not await database_exists(admin_url, name)


async def test_the_scratch_database_goes_when_the_run_fails(settings: CommonSettings) -> None:
    app_url = settings.database_url
    admin_url = default_admin_url(app_url)
    name = scratch_name("fails")

    async def fail(pool: asyncpg.Pool, wave: Wave) -> None:
        assert await database_exists(admin_url, name)
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        await bench_stored(
            200, 20, 3, app_url=app_url, admin_url=admin_url, database=name, inspect=fail
        )
    assert not await database_exists(admin_url, name)


async def test_the_command_prints_the_steps_as_json_and_leaves_nothing(
    settings: CommonSettings,
) -> None:
    name = scratch_name("cli")
    command = [sys.executable, "-m", "services.selection", "bench-draw", "--stored"]
    command += ["--rows", "2000", "--total", "300", "--database", name]
    done = subprocess.run(  # noqa: ASYNC221 (a short child process; nothing else runs meanwhile)
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["rows"] == 2000
    for key in ("close_s", "load_s", "draw_s", "store_s", "stored_total_s"):
        assert figures[key] >= 0
    for stage in ("freezing the eligible list", "ranking", "storing the selected", "dropped"):
        assert stage in done.stderr
    assert not await database_exists(default_admin_url(settings.database_url), name)
