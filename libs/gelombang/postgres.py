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

import asyncpg


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to undo (see the module docstring)."""


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, reset=_keep_session
    )
    return pool
