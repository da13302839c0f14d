"""Apply the selection service's schema migrations: ``python -m services.selection.migrate``.

Run by ``make up`` and ``make test``; safe to run any number of times.
"""

from __future__ import annotations

from pathlib import Path

from gelombang.migrations import apply_migrations
from services.selection.settings import SelectionSettings

if __name__ == "__main__":
    directory = Path(__file__).parent / "migrations"
    raise SystemExit(apply_migrations(SelectionSettings().database_url, directory))
