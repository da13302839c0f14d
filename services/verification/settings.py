from __future__ import annotations

from pydantic import Field, model_validator

from gelombang.settings import ContactChangeSettings, ContactSendSettings, refuse_dev_secret


class VerificationSettings(ContactChangeSettings, ContactSendSettings):
    service_name: str = "verification"
    group_id: str = "verification"
    db_pool_max: int = 6

    registry_url: str = "http://127.0.0.1:8091"
    # The dev values match the simulators; outside dev they refuse to start (see below).
    registry_api_key: str = Field(default="dev-registry-key", repr=False)
    registry_timeout_s: float = 3.0
    # The ministry's API is the scarce resource; this cap (per worker) keeps us a polite client
    # however large the backlog, and the circuit breaker stops hammering it when it is down.
    # Calls in flight stay at the cap while checks are due (a freed slot takes the next claimed
    # check; claims come in batches of half the cap), so one worker can take about
    # cap / latency checks a second: 16 / 45 ms, above a 300/s quota.
    registry_concurrency: int = 16
    # NIK answers are stored in batches of at most this many, after waiting this long for a
    # batch to fill (one transaction per batch instead of one per check; leases are 20 s).
    nik_write_batch: int = 64
    nik_write_linger_s: float = 0.1
    breaker_failure_threshold: int = 5
    breaker_open_s: float = 15.0

    sms_url: str = "http://127.0.0.1:8092"
    sms_api_key: str = Field(default="dev-sms-key", repr=False)
    sms_timeout_s: float = 5.0
    # Kept-open connections to the SMS gateway per worker: one due batch of codes goes out at once.
    sms_connections: int = 64

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_timeout_s: float = 10.0
    # The name this worker gives in EHLO. Empty: this host's FQDN, looked up once at start, not
    # per message (aiosmtplib would otherwise resolve it in a thread for every email).
    smtp_helo_name: str = ""
    # Kept-open SMTP connections per worker, which is also how many emails it sends at once.
    smtp_connections: int = 8
    mail_from: str = "Gelombang <no-reply@gelombang.example.id>"

    # Lost-link messages (issue 20): at most this many a day to one registration, however the
    # API's limits fared (they are off while Redis is down), and this many tries to send one
    # before giving up (with the backoff below, ten minutes or so).
    status_link_daily_limit: int = 3
    status_link_max_attempts: int = 10

    # Retry schedule for checks whose outside system was unavailable: exponential with full
    # jitter between these bounds; there is no limit on the number of attempts (never reject
    # a person because a government system was down).
    retry_base_s: float = 2.0
    retry_max_s: float = 300.0
    # A claimed piece of work not finished within this time (worker died) is picked up again.
    lease_s: float = 20.0
    scheduler_batch: int = 64
    idle_poll_s: float = 0.5

    @model_validator(mode="after")
    def _refuse_dev_api_keys(self) -> VerificationSettings:
        refuse_dev_secret(self, "registry_api_key", self.registry_api_key)
        refuse_dev_secret(self, "sms_api_key", self.sms_api_key)
        return self
