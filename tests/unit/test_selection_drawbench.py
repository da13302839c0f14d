"""bench-draw's scaffolding for the stored measurement: the synthetic pool and the scratch database
(the measurement itself runs against Postgres: tests/integration/test_selection_stored_draw.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import pytest

from gelombang.events import Channel, EmploymentStatus
from services.selection import drawbench
from services.selection.drawbench import (
    SyntheticLists,
    default_admin_url,
    pool_records,
    scratch_database,
    synthetic_entries,
    with_database,
)
from services.selection.eligible_list import TIERS
from services.selection.quotas import load_weights
from services.selection.service import tier_for

APP_URL = "postgresql://gelombang:secret@127.0.0.1:5432/gelombang"


def test_the_pool_rows_carry_the_entries_tiers_as_the_lists_give_them() -> None:
    entries = synthetic_entries(3_000, load_weights(), random.Random(5))
    since = datetime(2026, 1, 1, tzinfo=UTC)
    lists = SyntheticLists([], [])
    rows = list(pool_records(entries, since, lists))
    labour = {nik_hash for nik_hash, _ in lists.labour}
    social_aid = {nik_hash for (nik_hash,) in lists.social_aid}
    assert len(rows) == len(entries)
    for entry, row in zip(entries, rows, strict=True):
        registration_id, nik_hash, province, status, declares_aid, channel, verified_at, tier = row
        assert (registration_id, province, tier) == entry
        assert tier_for(nik_hash in labour, nik_hash in social_aid, declares_aid) == entry.tier
        assert status in get_args(EmploymentStatus)
        assert channel in get_args(Channel)
        assert since <= verified_at < since + timedelta(days=20)
    assert len({row[1] for row in rows}) == len(rows)  # one NIK, one place in the pool
    # Every way into each tier occurs: both lists, declared aid, and the labour list winning.
    assert {entry.tier for entry in entries} == set(TIERS)
    assert labour & social_aid
    assert any(row[4] for row in rows) and not all(row[4] for row in rows)


def test_the_scratch_database_url_differs_from_the_app_url_in_the_name_only() -> None:
    assert with_database(APP_URL, "gelombang_drawbench") == (
        "postgresql://gelombang:secret@127.0.0.1:5432/gelombang_drawbench"
    )
    assert with_database(APP_URL + "?sslmode=disable", "x").endswith("/x?sslmode=disable")


def test_the_admin_url_comes_from_the_environment_then_the_local_socket_then_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(drawbench, "_LOCAL_SOCKETS", tmp_path)
    monkeypatch.delenv("GELOMBANG_DRAWBENCH_ADMIN_URL", raising=False)
    assert default_admin_url(APP_URL) == with_database(APP_URL, "postgres")
    (tmp_path / ".s.PGSQL.5432").touch()
    assert default_admin_url(APP_URL) == (
        f"postgresql://postgres@/postgres?host={tmp_path}&port=5432"
    )
    monkeypatch.setenv("GELOMBANG_DRAWBENCH_ADMIN_URL", "postgresql://admin@db/postgres")
    assert default_admin_url(APP_URL) == "postgresql://admin@db/postgres"


@pytest.mark.parametrize("name", ["gelombang", "postgres", "drawbench", 'gelombang_drawbench"; x'])
async def test_only_a_scratch_name_can_be_created_and_dropped(name: str) -> None:
    # Refused before any connection is made: no database is needed to run this.
    with pytest.raises(ValueError, match="scratch database names"):
        async with scratch_database("postgresql://nowhere.invalid/postgres", APP_URL, name):
            pass
