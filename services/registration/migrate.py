"""Apply the registration service's schema migrations (yoyo), waiting for Postgres to accept.

Run by ``make up`` and ``make test``; safe to run any number of times.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from yoyo import get_backend, read_migrations

from services.registration.settings import RegistrationSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def yoyo_url(database_url: str) -> str:
    # yoyo picks the DB driver from the URL scheme; we ship psycopg 3.
    scheme, _, rest = database_url.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme in {"postgresql", "postgres"} else database_url


def main(timeout_s: float = 60.0) -> int:
    settings = RegistrationSettings()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            backend = get_backend(yoyo_url(settings.database_url))
            break
        except Exception as exc:  # the driver raises its own OperationalError subclasses
            if time.monotonic() > deadline:
                print(f"error: Postgres not reachable: {type(exc).__name__}", file=sys.stderr)
                return 1
            time.sleep(1.0)
    migrations = read_migrations(str(MIGRATIONS))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    print(f"migrations: {len(pending)} applied, {len(migrations)} known")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
