"""Driving the selection admin API the way a program admin does (through the gateway)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gelombang.settings import AdminSettings
from services.selection.draw import seed_commitment

GATEWAY = "http://127.0.0.1:8080"


def admin_client() -> httpx.AsyncClient:
    token = AdminSettings().effective_admin_token
    return httpx.AsyncClient(
        base_url=GATEWAY, timeout=120, headers={"Authorization": f"Bearer {token}"}
    )


async def next_wave_number(admin: httpx.AsyncClient) -> int:
    listed = await admin.get("/api/v1/admin/waves")
    assert listed.status_code == 200, listed.text
    waves = listed.json()
    unfinished = [w["number"] for w in waves if w["state"] in ("open", "closed")]
    assert not unfinished, f"waves {unfinished} were left unfinished by an earlier run"
    return max((w["number"] for w in waves), default=0) + 1


async def create_wave(admin: httpx.AsyncClient, number: int, **body: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    created = await admin.post(
        "/api/v1/admin/waves",
        json={
            "number": number,
            "opens_at": (now - timedelta(days=7)).isoformat(),
            "closes_at": (now + timedelta(hours=1)).isoformat(),
            **body,
        },
    )
    assert created.status_code == 201, created.text
    wave: dict[str, Any] = created.json()
    return wave


async def close_draw_announce(
    admin: httpx.AsyncClient, number: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (the wave as published at close, the wave after the announcement)."""
    seed = secrets.token_hex(32)
    closed = await admin.post(
        f"/api/v1/admin/waves/{number}/close", json={"seed_commitment": seed_commitment(seed)}
    )
    assert closed.status_code == 200, closed.text
    drawn = await admin.post(f"/api/v1/admin/waves/{number}/draw", json={"seed": seed})
    assert drawn.status_code == 200, drawn.text
    announced = await admin.post(f"/api/v1/admin/waves/{number}/announce")
    assert announced.status_code == 200, announced.text
    return closed.json(), announced.json()["wave"]
