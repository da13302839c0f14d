"""The database of a command run on a server of the deployment.

Admins run the commands there with the services' environment (``GELOMBANG_DATABASE_URL`` and the
keys), so the pool comes from the same settings and the same pool helper as the services'.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from gelombang.postgres import create_pool
from services.selection.settings import SelectionSettings


@asynccontextmanager
async def open_database() -> AsyncIterator[tuple[asyncpg.Pool, SelectionSettings]]:
    """A small pool (one command, one connection at a time) and the settings it came from."""
    settings = SelectionSettings()
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        yield pool, settings
    finally:
        await pool.close()
