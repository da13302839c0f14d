"""Apply the registration service's schema migrations: ``python -m services.registration.migrate``.

Run by ``make up`` and ``make test``; safe to run any number of times.
"""

from __future__ import annotations

from pathlib import Path

from gelombang.migrations import apply_migrations
from services.registration.settings import RegistrationSettings

if __name__ == "__main__":
    directory = Path(__file__).parent / "migrations"
    raise SystemExit(apply_migrations(RegistrationSettings().database_url, directory))
