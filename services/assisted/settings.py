from __future__ import annotations

from gelombang.settings import AdminSettings
from services.registration.settings import RegistrationSettings


class AssistedSettings(RegistrationSettings, AdminSettings):
    """The registration settings (same Kafka, Redis and Postgres timeouts: an assisted sign-up
    goes through the very same ``register``), the shared admin token that protects
    /api/v1/assisted/admin/ (``python -m gelombang.admin_token`` prints it in dev), plus what
    only the posko lane has."""

    service_name: str = "assisted"
    batch_max_rows: int = 10_000
    batch_max_bytes: int = 5 * 1024 * 1024
    # Rows of a batch submitted at once. Low on purpose: a single officer's submission in the
    # same process must not queue behind a 10,000-row upload.
    batch_concurrency: int = 8
    batch_publish_attempts: int = 3
