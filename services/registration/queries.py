"""Registration's read model as other services may read it: these queries, not its tables.

The read model (``registrations``, written by the projector) is registration's to reshape; a
service that needs a registration's current standing (the posko lane lists what its post sent,
with the status the person would see) asks here, so a change of its tables changes this module
and nothing outside registration. No personal data comes out but the NIK's last 4 digits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

__all__ = ["Standing", "registrations_of_nik", "standings"]


@dataclass(frozen=True)
class Standing:
    """Where a registration stands now, as its status page shows it."""

    registration_id: uuid.UUID
    status: str
    reason: str | None
    nik_last4: str
    province_code: str
    regency_code: str
    channel: str


async def standings(
    pool: asyncpg.Pool, registration_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Standing]:
    """The standings of those of ``registration_ids`` the read model holds; one that is not
    there yet (the projector has not stored it) is missing from the answer."""
    if not registration_ids:
        return {}
    rows = await pool.fetch(
        """SELECT registration_id, status, reason, nik_last4, province_code, regency_code,
                  channel
             FROM registrations WHERE registration_id = ANY($1::uuid[])""",
        list(registration_ids),
    )
    return {
        r["registration_id"]: Standing(
            r["registration_id"],
            r["status"],
            r["reason"],
            r["nik_last4"].strip(),  # char(4)
            r["province_code"],
            r["regency_code"],
            r["channel"],
        )
        for r in rows
    }


async def registrations_of_nik(pool: asyncpg.Pool, nik_hash: str) -> list[uuid.UUID]:
    """Every registration the read model holds for the NIK (by its keyed hash): the one that
    holds it and any refused as its duplicates."""
    rows = await pool.fetch(
        "SELECT registration_id FROM registrations WHERE nik_hash = $1", nik_hash
    )
    return [r["registration_id"] for r in rows]
