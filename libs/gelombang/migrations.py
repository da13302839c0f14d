"""Versioned schema migrations (yoyo), shared by every service that owns tables.

Each service keeps its SQL files in its own ``migrations/`` folder with ids prefixed by the
service name, so all of them can live in one database's yoyo bookkeeping without clashing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from yoyo import get_backend, read_migrations


def yoyo_url(database_url: str) -> str:
    # yoyo picks the DB driver from the URL scheme; we ship psycopg 3.
    scheme, _, rest = database_url.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme in {"postgresql", "postgres"} else database_url


def apply_migrations(database_url: str, directory: Path, timeout_s: float = 60.0) -> int:
    """Apply pending migrations, waiting for Postgres to accept connections. Exit code."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            backend = get_backend(yoyo_url(database_url))
            break
        except Exception as exc:  # the driver raises its own OperationalError subclasses
            if time.monotonic() > deadline:
                print(f"error: Postgres not reachable: {type(exc).__name__}", file=sys.stderr)
                return 1
            time.sleep(1.0)
    migrations = read_migrations(str(directory))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    print(f"{directory.parent.name} migrations: {len(pending)} applied, {len(migrations)} known")
    return 0
