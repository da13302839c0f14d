from __future__ import annotations

from typing import Literal

from gelombang.settings import ContactChangeSettings, ContactSendSettings, OutboxRelaySettings


class RegistrationSettings(ContactChangeSettings, ContactSendSettings):
    service_name: str = "registration"
    # Longer than a healthy acks=all round trip by two orders of magnitude; shorter than a
    # person's patience. Past it the client gets 503 + Retry-After instead of a hanging request.
    produce_timeout_s: float = 8.0
    # How long a retried request with the same Idempotency-Key gets the first answer back.
    idempotency_ttl_s: int = 24 * 3600
    # Redis is the fast path; when it is slow we skip it rather than make every sign-up wait
    # (the log decides). The read-model lookup runs only on a reservation conflict.
    redis_timeout_s: float = 0.25
    # After a Redis round trip times out, sign-ups skip the edge at once for this long, then one
    # round trip probes it (gelombang.breaker): a stopped Redis costs the fast 409, not 503s.
    redis_breaker_open_s: float = 1.0
    standing_lookup_timeout_s: float = 0.5
    retry_after_s: int = 5
    db_pool_max: int = 10
    # One new SMS code per registration per minute; the worker also caps codes per day.
    otp_resend_cooldown_s: int = 60
    contact_change_cooldown_s: int = 60
    # Admission control, per process (gelombang.admission). The intake target is 80,000 sign-ups
    # a minute (~1,333/s) over two processes, ~670/s each; the rate leaves headroom above that
    # but stays below where one uvicorn worker on this 2-core machine saturates. 1,800 since the
    # decider yields the cores to intake (issue 15, fourth round): one process alone then held
    # 1,600/s at p99 114 ms and not 2,000/s (p99 432 ms); 1,200 refused 1,300/s with 429.
    admission_rate_per_s: float = 1800.0
    admission_burst: int = 300
    # The ceiling of the adaptive in-flight limit below. Little's law at the p99 target: ~500/s
    # per process x 0.25 s. 64 was the fixed cap before the limit adapted; with it the gateway's
    # knee stopped at 800/s, shedding (503 in_flight) whenever a 100-ms hiccup queued more than
    # 64 at 500/s per process although p99 stayed under 130 ms; at 128 the knee is 1,200/s (p99
    # 59 ms) and real overload (1,400/s) is still shed (issue 15, fourth round, one run each).
    admission_max_in_flight: int = 128
    # The cap above is now the ceiling of an adaptive limit (issue 15, item 6): the limit falls
    # while admitted sign-ups take longer than this target, counted from the gateway's stamp,
    # and once requests keep arriving after waiting longer than that in front of us, they are
    # refused at once (503 + Retry-After). 150 ms leaves the rest of the 250 ms p99 promise to
    # the gateway and the network. 0 turns adaptation off (a fixed cap at
    # admission_max_in_flight). The floor keeps a process serving whatever the signal says.
    admission_target_latency_ms: int = 150
    admission_min_in_flight: int = 8
    # An estimate longer than this is no use to a person; past it the page just keeps retrying.
    admission_max_retry_after_s: int = 120
    # Proof of work (ALTCHA): "pressure" asks for it only while admission control is close to its
    # limits; "off" and "always" exist for tests and incidents. 100,000 is a mean ~50,000
    # SHA-256 rounds: about a second on a cheap phone, spent while the person waits anyway.
    pow_mode: Literal["off", "pressure", "always"] = "pressure"
    pow_max_number: int = 100_000
    pow_ttl_s: int = 300
    # Sign-ups per client IP and per NIK. Mobile networks in Indonesia put thousands of phones
    # behind one carrier-grade NAT address, so the IP limit only stops floods; the NIK limit
    # (a person retyping is far below it) stops hammering one identity. 0 switches one off.
    signup_ip_limit: int = 120
    signup_ip_window_s: int = 60
    signup_nik_limit: int = 10
    signup_nik_window_s: int = 600
    # Trusted load generators on the machine itself (make bench, Locust): no IP limit, no
    # proof of work. Empty in a deployment where the gateway is not on the same host.
    signup_ip_exempt_cidrs: str = "127.0.0.0/8,::1/128"
    # "I lost my status link" (issue 20). A message goes out only when NIK and contact belong
    # together, so the NIK limit is what bounds messages to one person (and SMS money) when
    # someone else knows both: a person who mistyped their contact twice still gets through.
    # The address limit stops floods of requests; behind a carrier-grade NAT it is shared by
    # many phones, so watch http_requests_shed_total{reason="status_link_ip_limit"} on a busy
    # day. The trusted addresses above have no address limit here either. 0 switches one off.
    status_link_nik_limit: int = 3
    status_link_nik_window_s: int = 24 * 3600
    status_link_ip_limit: int = 10
    status_link_ip_window_s: int = 3600


class ProjectorSettings(OutboxRelaySettings):
    service_name: str = "registration-projector"
    group_id: str = "registration-projector"
    db_pool_max: int = 4
    # Writing the NIK hints back must not hold a batch up for long when Redis is slow.
    redis_timeout_s: float = 1.0
