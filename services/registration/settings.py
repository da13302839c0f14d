from __future__ import annotations

from gelombang.settings import CommonSettings


class RegistrationSettings(CommonSettings):
    service_name: str = "registration"
    # Longer than a healthy acks=all round trip by two orders of magnitude; shorter than a
    # person's patience. Past it the client gets 503 + Retry-After instead of a hanging request.
    produce_timeout_s: float = 8.0
    # How long a retried request with the same Idempotency-Key gets the first answer back.
    idempotency_ttl_s: int = 24 * 3600
    # Redis and the Postgres claim lookup are fast paths; when they are slow we skip them rather
    # than make every sign-up wait (the projector's unique constraint is the last word).
    redis_timeout_s: float = 0.25
    claim_lookup_timeout_s: float = 0.5
    retry_after_s: int = 5
    db_pool_max: int = 10
    # One new SMS code per registration per minute; the worker also caps codes per day.
    otp_resend_cooldown_s: int = 60


class ProjectorSettings(CommonSettings):
    service_name: str = "registration-projector"
    group_id: str = "registration-projector"
    db_pool_max: int = 4
