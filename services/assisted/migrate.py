"""Apply the assisted service's schema migrations: ``python -m services.assisted.migrate``.

Run by ``make up`` and ``make test``; safe to run any number of times.
"""

from __future__ import annotations

from pathlib import Path

from gelombang.migrations import apply_migrations
from services.assisted.settings import AssistedSettings

if __name__ == "__main__":
    directory = Path(__file__).parent / "migrations"
    raise SystemExit(apply_migrations(AssistedSettings().database_url, directory))
