"""The Postgres connection pool every service uses.

asyncpg's pool sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` each
time a connection goes back, to undo session state. Our code keeps none: no SET outside a
transaction, no LISTEN, no advisory locks, cursors only inside transactions. That reset was one
Postgres round trip per release, ~5% of an API process's CPU at 300 sign-ups/s, and in a spike
Postgres ran it ~45,000 times per 12,000 sign-ups for the workers (pg_stat_statements). asyncpg
still rolls back a transaction left open (a cancelled task) before it calls our reset, so
skipping the rest loses nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from gelombang.logs import get_logger
from gelombang.metrics import ONE_NIK_VIOLATIONS

log = get_logger(__name__)
# Table names are spliced into SQL: ours only, never input.
_TABLE = re.compile(r"[a-z_]+")


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to undo (see the module docstring)."""


async def create_pool(
    dsn: str, *, min_size: int, max_size: int, server_settings: dict[str, str] | None = None
) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        reset=_keep_session,
        server_settings=server_settings,
    )
    return pool


def columns(rows: Sequence[object], *names: str) -> list[list[Any]]:
    """The attributes ``names`` of ``rows``, one list per name: the arrays that a batch insert
    ``SELECT ... FROM unnest($1::uuid[], $2::text[], ...)`` takes, in its parameters' order."""
    return [[getattr(row, name) for row in rows] for name in names]


async def report_second_registrations(
    conn: asyncpg.Connection,
    table: str,
    attempted: Sequence[UUID],
    stored: Collection[UUID],
    store: str,
) -> int:
    """After an ``INSERT ... ON CONFLICT DO NOTHING`` of people into ``table``: those neither
    stored now nor there before were refused by the table's unique index on the NIK hash, i.e.
    a second live registration of one NIK reached this store. That is a bug upstream (the
    decider decides one per NIK): counted and logged by id, never raised, so it cannot turn into
    a crash loop. Returns how many."""
    if not _TABLE.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    others = [r for r in attempted if r not in stored]
    if not others:
        return 0
    rows = await conn.fetch(
        f"SELECT registration_id FROM {table} WHERE registration_id = ANY($1::uuid[])",  # noqa: S608
        others,
    )
    known = {row["registration_id"] for row in rows}
    refused = [r for r in others if r not in known]
    for registration_id in refused:
        ONE_NIK_VIOLATIONS.labels(store).inc()
        log.error("second_registration_refused", store=store, registration_id=str(registration_id))
    return len(refused)
