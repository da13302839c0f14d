from __future__ import annotations

from gelombang.settings import CommonSettings


class VerificationSettings(CommonSettings):
    service_name: str = "verification"
    group_id: str = "verification"
    db_pool_max: int = 6

    registry_url: str = "http://127.0.0.1:8091"
    registry_api_key: str = "dev-registry-key"
    registry_timeout_s: float = 3.0
    # The ministry's API is the scarce resource; this cap (per worker) keeps us a polite client
    # however large the backlog, and the circuit breaker stops hammering it when it is down.
    registry_concurrency: int = 16
    breaker_failure_threshold: int = 5
    breaker_open_s: float = 15.0

    sms_url: str = "http://127.0.0.1:8092"
    sms_api_key: str = "dev-sms-key"
    sms_timeout_s: float = 5.0
    # Kept-open connections to the SMS gateway per worker: one due batch of codes goes out at once.
    sms_connections: int = 64
    # Each SMS costs money: at most this many codes per registration and per phone per day.
    sms_daily_limit: int = 5

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_timeout_s: float = 10.0
    # The name this worker gives in EHLO. Empty: this host's FQDN, looked up once at start, not
    # per message (aiosmtplib would otherwise resolve it in a thread for every email).
    smtp_helo_name: str = ""
    # Kept-open SMTP connections per worker, which is also how many emails it sends at once.
    smtp_connections: int = 8
    mail_from: str = "Gelombang <no-reply@gelombang.example.id>"

    # Retry schedule for checks whose outside system was unavailable: exponential with full
    # jitter between these bounds; there is no limit on the number of attempts (never reject
    # a person because a government system was down).
    retry_base_s: float = 2.0
    retry_max_s: float = 300.0
    # A claimed piece of work not finished within this time (worker died) is picked up again.
    lease_s: float = 20.0
    scheduler_batch: int = 64
    idle_poll_s: float = 0.5
