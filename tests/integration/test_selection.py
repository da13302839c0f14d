"""Selection against the running stack: pool from Kafka, lists, a wave's life cycle through the
gateway's admin API, a published draw that re-runs to MATCH, revocation and returned seats."""

from __future__ import annotations

import asyncio
import random
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from gelombang.events import RegistrationVerified
from gelombang.pii import PiiCipher
from gelombang.settings import REPO_ROOT, CommonSettings
from services.selection.draw import seed_commitment
from services.selection.repository import PostgresWaveStore, revoke_expired
from tests.citizens import random_nik, verified_event_fields
from tests.integration.conftest import eventually
from tests.waves import (
    GATEWAY,
    admin_client,
    all_in_pool,
    close_draw_announce,
    create_wave,
    next_wave_number,
    publish_events,
    publish_verified,
)

pytestmark = pytest.mark.integration


async def test_admin_endpoints_refuse_without_the_admin_token() -> None:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10) as anonymous:
        assert (await anonymous.get("/api/v1/admin/waves")).status_code == 401
        wrong = await anonymous.post(
            "/api/v1/admin/waves/1/close",
            json={
                "seed_commitment": "0" * 64,
                "beacon_source": "test beacon",
                "beacon_reference": "round 1",
                "beacon_due_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            },
            headers={"Authorization": "Bearer not-the-token"},
        )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "admin_unauthorized"


async def test_lists_are_matched_by_nik_hash_and_reimport_changes_nothing(
    settings: CommonSettings, cipher: PiiCipher, pool: asyncpg.Pool
) -> None:
    rng = random.Random(secrets.randbits(64))
    niks = sorted({random_nik(rng) for _ in range(40)})[:20]
    good = "\n".join(f"{n},{'laid_off' if i % 2 else 'furloughed'}" for i, n in enumerate(niks))
    body = f"nik,status\n{good}\n1234,laid_off\n{niks[0]},retired\n"
    async with admin_client() as admin:
        first = await admin.post(
            "/api/v1/admin/lists/labour_office",
            content=body,
            headers={"Content-Type": "text/csv"},
        )
        again = await admin.post(
            "/api/v1/admin/lists/labour_office",
            content=body,
            headers={"Content-Type": "text/csv"},
        )
    assert first.status_code == again.status_code == 200, first.text
    report = first.json()
    assert (report["rows"], report["added"], report["unchanged"]) == (22, 20, 0)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (22, "nik_format"),
        (23, "status_invalid"),
    ]
    repeat = again.json()
    assert (repeat["added"], repeat["changed"], repeat["unchanged"]) == (0, 0, 20)
    stored = await pool.fetchval(
        "SELECT count(*) FROM selection_labour_list WHERE nik_hash = ANY($1::text[])",
        [cipher.nik_hash(n) for n in niks],
    )
    assert stored == 20
    # Only hashes are kept: no NIK in the table.
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM selection_labour_list WHERE nik_hash = ANY($1::text[])", niks
        )
        == 0
    )


async def test_a_wave_from_pool_to_published_draw_then_revocation_returns_seats(
    settings: CommonSettings, cipher: PiiCipher, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    ids, niks = await publish_verified(settings, cipher, 6)
    await eventually(lambda: all_in_pool(pool, ids), timeout_s=60)
    # Three of them are on the labour-office list: tier 1, ahead of everybody else in Jawa Barat.
    listed = "nik,status\n" + "\n".join(f"{n},laid_off" for n in niks[:3]) + "\n"

    async with admin_client() as admin:
        imported = await admin.post(
            "/api/v1/admin/lists/labour_office",
            content=listed,
            headers={"Content-Type": "text/csv"},
        )
        assert imported.status_code == 200, imported.text
        number = await next_wave_number(admin)
        tier1_before = await pool.fetchval(
            """SELECT count(*) FROM selection_pool p JOIN selection_labour_list l USING (nik_hash)
                WHERE p.state = 'eligible' AND p.province_code = '32'"""
        )
        # Enough Jawa Barat seats for every tier-1 person there, and nothing else.
        created = await create_wave(
            admin, number, quotas={"32": tier1_before}, total_quota=tier1_before
        )
        assert created["state"] == "open" and created["total_quota"] == tier1_before

        early = await admin.post(f"/api/v1/admin/waves/{number}/draw", json={"seed": "ab" * 32})
        assert early.status_code == 409 and early.json()["code"] == "wave_state"

        published, done = await close_draw_announce(admin, number)
        assert published["seed"] is None, "the seed must stay secret until the draw"
        assert published["eligible_count"] >= 6
        assert published["beacon_reference"] and published["beacon_due_at"]
        assert published["beacon_value"] is None
        assert done["state"] == "announced"
        assert done["seed_commitment"] == seed_commitment(done["seed"])
        assert done["algorithm_version"] == "gelombang-draw-v2"
        assert done["beacon_reference"] == published["beacon_reference"]
        # A drawn wave is never drawn again, whatever is offered.
        again = await admin.post(
            f"/api/v1/admin/waves/{number}/draw",
            json={
                "seed": done["seed"],
                "beacon_reference": done["beacon_reference"],
                "beacon_value": "another value",
            },
        )
        assert again.status_code == 409 and again.json()["code"] == "wave_already_drawn"
        assert done["selected"] == tier1_before
        assert done["selected_by_province_and_tier"] == {"32": {"1": tier1_before}}

    # As stored: the selected as rows, everyone else on the frozen list waitlisted.
    outcomes = {
        r["registration_id"]: r["outcome"] for r in await PostgresWaveStore(pool).results(number)
    }
    assert [outcomes[str(i)] for i in ids] == ["selected"] * 3 + ["waitlisted"] * 3

    # Anyone can re-run the published draw.
    out = tmp_path / f"wave-{number}"
    cli = [sys.executable, "-m", "services.selection"]
    exported = await asyncio.to_thread(
        subprocess.run,
        [*cli, "export-draw", "--wave", str(number), "--out", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    verified = await asyncio.to_thread(
        subprocess.run,
        [
            *cli,
            "verify-draw",
            str(out),
            "--eligible-sha256",
            published["eligible_sha256"],
            "--seed-commitment",
            published["seed_commitment"],
            "--beacon-reference",
            published["beacon_reference"],
            "--beacon-value",
            done["beacon_value"],
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verified.returncode == 0 and verified.stdout.startswith("MATCH"), verified.stdout

    # One of the selected starts a training; 30 days later the other two lose their seats.
    async with admin_client() as admin:
        started = await admin.post(
            "/api/v1/admin/training-starts", json={"registration_ids": [str(ids[0])]}
        )
        assert started.json() == {"recorded": 1}
    await revoke_expired(pool, 30, datetime.now(UTC) + timedelta(days=31))
    states = dict(
        await pool.fetch(
            "SELECT registration_id, state FROM selection_pool WHERE registration_id = ANY($1)",
            ids,
        )
    )
    assert [states[i] for i in ids] == ["selected", "revoked", "revoked"] + ["eligible"] * 3

    # The next wave gets their seats back in Jawa Barat; the waitlisted are carried over.
    async with admin_client() as admin:
        await create_wave(admin, number + 1, quotas={"32": 0}, total_quota=0)
        closed, done = await close_draw_announce(admin, number + 1)
    assert closed["returned_seats"].get("32", 0) >= 2
    assert closed["quotas"]["32"] == closed["returned_seats"]["32"]
    in_next = {r["registration_id"] for r in await PostgresWaveStore(pool).results(number + 1)}
    assert {str(i) for i in ids} & in_next == {str(i) for i in ids[3:]}


async def test_replaying_verified_events_does_not_grow_the_pool(
    settings: CommonSettings, cipher: PiiCipher, pool: asyncpg.Pool
) -> None:
    ids, _ = await publish_verified(settings, cipher, 3)
    await eventually(lambda: all_in_pool(pool, ids), timeout_s=60)
    replays = [
        RegistrationVerified(
            **verified_event_fields(
                registration_id=registration_id,
                nik_hash="replayed",
                province_code="11",
                regency_code="1101",
            )
        )
        for registration_id in ids
    ]
    await publish_events(settings, replays)
    # The replays are acknowledged; a few poll intervals later the worker has seen them.
    await asyncio.sleep(3.0)
    rows = await pool.fetch(
        "SELECT province_code FROM selection_pool WHERE registration_id = ANY($1::uuid[])", ids
    )
    assert [r["province_code"] for r in rows] == ["32"] * 3
