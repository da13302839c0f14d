"""The one definition of Gelombang's dashboards: every panel's title, PromQL and unit.

Both renderings are generated from it and committed: Grafana's JSON (deploy/grafana/dashboards/,
for compose and wherever Grafana runs) and the Prometheus console pages the local stack serves
(deploy/prometheus/consoles/). `python -m deploy.dashboards write` regenerates both;
tests/unit/test_dashboards.py fails while a committed file differs from what this produces, and
tests/integration/test_observability.py runs every query here against the live Prometheus.

Legends use Grafana's ``{{label}}`` syntax; the console renderer translates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Grafana unit ids; the console pages format each the same way (deploy/dashboards/consoles.py).
Unit = Literal["short", "bytes", "Bps", "reqps", "ops", "s", "percentunit"]

# Intake requests: the public API and the posko lane, without probes and scrapes.
INTAKE = 'service=~"registration|assisted", route!~"/metrics|/healthz|/readyz"'
# Filesystems node-exporter reports that can fill up: not memory-backed ones.
DISKS = 'fstype!~"tmpfs|ramfs"'
# deploy/local/stack.py labels the filesystem that holds .run/ (Kafka's log, Postgres' data).
RUN_DIR_DISK = 'holds_run_dir="true"'


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""  # Grafana legendFormat, e.g. "{{service}} {{status}}"


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    unit: Unit
    queries: tuple[Query, ...]
    kind: Literal["timeseries", "table"] = "timeseries"
    width: int = 12  # of 24 grid columns (Grafana); the console pages use half or full width
    columns: tuple[str, ...] = ()  # label columns of a table panel, besides the value
    red_above: float | None = None  # Grafana threshold, where the panel's alert starts


@dataclass(frozen=True)
class Dashboard:
    slug: str  # file names: <slug>.json, gelombang-<slug>.html; Grafana uid gelombang-<slug>
    title: str
    description: str
    panels: tuple[Panel, ...]


def timeseries(title: str, description: str, unit: Unit, *queries: Query, width: int = 12) -> Panel:
    return Panel(title, description, unit, queries, width=width)


INTAKE_BOARD = Dashboard(
    "intake",
    "Intake",
    "Is the sign-up front door keeping up? Rate, latency, errors and load shed of the public API"
    " and the posko lane.",
    (
        timeseries(
            "Accepted sign-ups per second",
            "Sign-ups answered 202 (durable in Kafka), by channel.",
            "reqps",
            Query("sum by (channel) (rate(registrations_accepted_total[1m]))", "{{channel}}"),
        ),
        timeseries(
            "Requests per second by status",
            "Every intake answer by service and HTTP status (probes and scrapes excluded).",
            "reqps",
            Query(
                f"sum by (service, status) (rate(http_requests_total{{{INTAKE}}}[1m]))",
                "{{service}} {{status}}",
            ),
        ),
        timeseries(
            "Latency percentiles (registration)",
            "p50/p95/p99 from request start to response start, at the API process."
            " Alert at p99 > 500 ms.",
            "s",
            *(
                Query(
                    f"histogram_quantile({q}, sum by (le) (rate("
                    f'http_request_duration_seconds_bucket{{{INTAKE}, service="registration"}}'
                    "[5m])))",
                    legend,
                )
                for q, legend in (("0.5", "p50"), ("0.95", "p95"))
            ),
            Query('service:http_request_duration_seconds:p99_5m{service="registration"}', "p99"),
        ),
        timeseries(
            "p99 latency by route",
            "Which endpoint is slow.",
            "s",
            Query("service_route:http_request_duration_seconds:p99_5m", "{{service}} {{route}}"),
        ),
        Panel(
            "5xx ratio",
            "Share of intake answers that are server errors. Alert above 1% for 5 minutes.",
            "percentunit",
            (Query("service:http_requests_5xx:ratio_rate1m", "{{service}}"),),
            red_above=0.01,
        ),
        timeseries(
            "4xx per second by route and status",
            "Client errors: 422 = invalid input, 409 = already registered, 429 = rate limited by"
            " the API.",
            "reqps",
            Query(
                "sum by (route, status) (rate("
                f'http_requests_total{{{INTAKE}, status=~"4.."}}[1m]))',
                "{{route}} {{status}}",
            ),
        ),
        timeseries(
            "Load shed per second",
            "Requests refused early by admission control (429/503 with Retry-After). Non-zero"
            " means the API is at capacity.",
            "reqps",
            Query(
                "sum by (service, reason) (rate(http_requests_shed_total[1m]))"
                " or 0 * service:http_requests:rate1m",
                "{{service}} {{reason}}",
            ),
        ),
        timeseries(
            "Duplicate sign-ups refused",
            "NIKs already registered, by where the duplicate was caught.",
            "reqps",
            Query(
                "sum by (source) (rate(registration_dedupe_hits_total[5m]))"
                " or 0 * sum(service:http_requests:rate1m)",
                "{{source}}",
            ),
        ),
        timeseries(
            "Kafka produce latency p99",
            "Time until Kafka acknowledged a record with acks=all: the floor under intake latency.",
            "s",
            Query("topic:kafka_produce_duration_seconds:p99_5m", "{{topic}}"),
        ),
        timeseries(
            "Kafka produce errors per second",
            "Records Kafka did not acknowledge: each one is a 503 to an applicant.",
            "reqps",
            Query(
                "sum by (topic, error) (rate(kafka_produce_errors_total[1m]))"
                " or 0 * sum by (topic) (rate(kafka_events_produced_total[1m]))",
                "{{topic}} {{error}}",
            ),
        ),
        timeseries(
            "Degraded dependencies",
            "Calls to Redis/Postgres that failed and were worked around (intake still answered).",
            "reqps",
            Query(
                "sum by (dependency, operation) (rate(dependency_errors_total[5m]))"
                " or 0 * sum(service:http_requests:rate1m)",
                "{{dependency}} {{operation}}",
            ),
        ),
        timeseries(
            "Gateway connections",
            "Connections held by nginx at the edge.",
            "short",
            Query("nginx_connections_active", "active"),
            Query("nginx_connections_waiting", "waiting"),
        ),
    ),
)

PIPELINE_BOARD = Dashboard(
    "pipeline",
    "Pipeline",
    "Are accepted registrations flowing through verification and into the status read model, and"
    " are the outside systems healthy?",
    (
        timeseries(
            "Consumer lag by group and topic",
            "Records not yet handled. Alert when growing for 10 minutes.",
            "short",
            Query("group_topic:kafka_consumer_lag_messages:sum", "{{group}} {{topic}}"),
        ),
        timeseries(
            "Consumer lag by partition",
            "A single hot or stuck partition shows here.",
            "short",
            Query(
                "max by (group, topic, partition) (kafka_consumer_lag_messages)",
                "{{group}} {{topic}}/{{partition}}",
            ),
        ),
        timeseries(
            "Records consumed per second",
            "Handled and committed, by consumer group.",
            "ops",
            Query(
                "sum by (group, topic) (rate(kafka_events_consumed_total[1m]))",
                "{{group}} {{topic}}",
            ),
        ),
        timeseries(
            "Registration funnel",
            "Registrations in the status read model by current status (refreshed every 15 s).",
            "short",
            Query("sum by (status) (registrations_by_status)", "{{status}}"),
        ),
        Panel(
            "Funnel by province",
            "Current status per domicile province.",
            "short",
            (Query("sum by (province, status) (registrations_by_status)"),),
            kind="table",
            columns=("province", "status"),
        ),
        timeseries(
            "Verification outcomes per second",
            "Registrations settled as verified or rejected (with reason).",
            "ops",
            Query(
                "sum by (outcome, reason) (rate(verification_outcomes_total[5m]))",
                "{{outcome}} {{reason}}",
            ),
        ),
        timeseries(
            "Checks by outcome",
            "Contact and NIK checks finished, by result.",
            "ops",
            Query(
                "sum by (check, outcome) (rate(verification_checks_total[5m]))",
                "{{check}} {{outcome}}",
            ),
        ),
        timeseries(
            "Retries scheduled",
            "Checks postponed because an outside system was unavailable.",
            "ops",
            Query(
                "sum by (check, reason) (rate(verification_retries_total[5m]))"
                " or 0 * sum by (check) (rate(verification_checks_total[5m]))",
                "{{check}} {{reason}}",
            ),
        ),
        timeseries(
            "Civil registry latency",
            "Round trips to the civil registry.",
            "s",
            *(
                Query(
                    f"histogram_quantile({q}, sum by (le)"
                    " (rate(civil_registry_request_duration_seconds_bucket[5m])))",
                    legend,
                )
                for q, legend in (("0.5", "p50"), ("0.99", "p99"))
            ),
        ),
        timeseries(
            "Civil registry answers by result",
            "match / mismatch / not_found are answers; anything else is an error.",
            "reqps",
            Query(
                "sum by (result) (rate(civil_registry_request_duration_seconds_count[5m]))",
                "{{result}}",
            ),
        ),
        timeseries(
            "Civil registry circuit",
            "0 closed, 1 half-open, 2 open (NIK checks postponed). Alert when open for 2 minutes.",
            "short",
            Query("max by (instance) (civil_registry_circuit_state)", "{{instance}}"),
        ),
        timeseries(
            "Email and SMS sent by result",
            "Messages handed to the SMTP server / SMS gateway.",
            "ops",
            Query(
                "sum by (channel, result) (rate(contact_messages_total[5m]))",
                "{{channel}} {{result}}",
            ),
        ),
        timeseries(
            "Email and SMS latency p99",
            "Time to hand a message to the provider.",
            "s",
            Query(
                "histogram_quantile(0.99, sum by (channel, le)"
                " (rate(contact_message_send_duration_seconds_bucket[5m])))",
                "{{channel}}",
            ),
        ),
        timeseries(
            "Dead-lettered records (last hour)",
            "Undecodable records moved to <topic>.dlq. Anything above 0 needs a look.",
            "short",
            Query(
                "sum by (group, topic) (increase(kafka_dead_lettered_total[1h]))",
                "{{group}} {{topic}}",
            ),
        ),
        timeseries(
            "Outbox backlog",
            "Verification events stored but not yet in Kafka.",
            "short",
            Query("sum(verification_outbox_pending)", "pending"),
        ),
        timeseries(
            "Projector throughput",
            "Events written to the status read model, and batch time.",
            "short",
            Query("sum by (topic) (rate(projector_events_applied_total[1m]))", "{{topic}}"),
            Query(
                "histogram_quantile(0.99, sum by (le)"
                " (rate(projector_batch_duration_seconds_bucket[5m])))",
                "batch p99 (s)",
            ),
        ),
    ),
)

WAVES_BOARD = Dashboard(
    "waves",
    "Waves",
    "How full is each wave, per province and priority tier, and how many eligible people wait in"
    " the pool?",
    (
        timeseries(
            "Seats per wave",
            "Quota seats and seats filled, per wave.",
            "short",
            Query("sum by (wave) (selection_wave_quota_seats)", "quota {{wave}}"),
            Query("sum by (wave) (selection_wave_selected)", "selected {{wave}}"),
        ),
        timeseries(
            "Fill by province",
            "Selected / quota seats per wave and province.",
            "percentunit",
            Query(
                "sum by (wave, province) (selection_wave_selected)"
                " / sum by (wave, province) (selection_wave_quota_seats)",
                "{{wave}} {{province}}",
            ),
        ),
        timeseries(
            "Selected by province and tier",
            "Who got the seats: priority tier per province.",
            "short",
            Query(
                "sum by (wave, province, tier) (selection_wave_selected)",
                "{{wave}} {{province}} {{tier}}",
            ),
        ),
        timeseries(
            "Quota seats by province",
            "Seats each province has in each wave.",
            "short",
            Query("sum by (wave, province) (selection_wave_quota_seats)", "{{wave}} {{province}}"),
        ),
        timeseries(
            "Eligible pool by province and tier",
            "Verified people waiting for a seat (carried over between waves).",
            "short",
            Query("sum by (province, tier) (selection_pool_eligible)", "{{province}} {{tier}}"),
            width=24,
        ),
    ),
)

INFRASTRUCTURE_BOARD = Dashboard(
    "infrastructure",
    "Infrastructure",
    "Is every process up, and are the machine (CPU, memory, disk, network), Postgres, Redis and"
    " nginx holding?",
    (
        timeseries(
            "Targets up",
            "1 = scraped, 0 = down (alert after 1 minute).",
            "short",
            Query("up", "{{job}} {{instance}}"),
        ),
        timeseries(
            "CPU by job",
            "CPU seconds per second; the box has 2 cores.",
            "short",
            Query("sum by (job) (rate(process_cpu_seconds_total[1m]))", "{{job}}"),
        ),
        timeseries(
            "Memory by job",
            "Resident memory of each job's processes.",
            "bytes",
            Query("sum by (job) (process_resident_memory_bytes)", "{{job}}"),
        ),
        timeseries(
            "Postgres connections by state",
            "Backends by state; near max_connections means pools are too big.",
            "short",
            Query('sum by (state) (pg_stat_activity_count{datname="gelombang"})', "{{state}}"),
        ),
        timeseries(
            "Postgres transactions per second",
            "Commits and rollbacks in the gelombang database.",
            "ops",
            Query('sum(rate(pg_stat_database_xact_commit{datname="gelombang"}[1m]))', "commits"),
            Query(
                'sum(rate(pg_stat_database_xact_rollback{datname="gelombang"}[1m]))', "rollbacks"
            ),
        ),
        timeseries(
            "Postgres database size",
            "Size on disk of the gelombang database.",
            "bytes",
            Query('pg_database_size_bytes{datname="gelombang"}', "size"),
        ),
        timeseries(
            "Redis commands per second",
            "Dedupe and idempotency lookups.",
            "ops",
            Query("sum(rate(redis_commands_processed_total[1m]))", "commands"),
        ),
        timeseries(
            "Redis memory and clients",
            "Memory used and connected clients; evictions mean the dedupe fast path forgets.",
            "short",
            Query("redis_memory_used_bytes", "memory (bytes)"),
            Query("redis_connected_clients", "clients"),
            Query("rate(redis_evicted_keys_total[5m])", "evictions/s"),
        ),
        timeseries(
            "nginx requests per second",
            "Everything the gateway answered, including its own 429s.",
            "reqps",
            Query("rate(nginx_http_requests_total[1m])", "requests"),
        ),
        timeseries(
            "Scrape duration",
            "Slow scrapes mean a busy process.",
            "s",
            Query("max by (job) (scrape_duration_seconds)", "{{job}}"),
        ),
        # The machine itself (node-exporter): what every process above shares.
        timeseries(
            "Machine CPU by mode",
            "CPU seconds per second over all cores, by mode; idle is the headroom left.",
            "short",
            Query("sum by (mode) (rate(node_cpu_seconds_total[1m]))", "{{mode}}"),
        ),
        timeseries(
            "Machine memory available",
            "Memory the kernel can hand out without swapping, against the total.",
            "bytes",
            Query("node_memory_MemAvailable_bytes", "available"),
            Query("node_memory_MemTotal_bytes", "total"),
        ),
        timeseries(
            "Disk free (filesystem holding .run/)",
            "Free share of the filesystem with Kafka's log and Postgres' data, and where the last"
            " hour's trend puts it in 4 hours (0% = full). Alerts: below 10%, or full within 4"
            " hours.",
            "percentunit",
            Query(
                f"node_filesystem_avail_bytes{{{RUN_DIR_DISK}}}"
                f" / node_filesystem_size_bytes{{{RUN_DIR_DISK}}}",
                "free {{mountpoint}}",
            ),
            # Clamped: a trend from the first few minutes' samples points far past 0% or 100%.
            Query(
                "clamp(predict_linear("
                f"node_filesystem_avail_bytes{{{RUN_DIR_DISK}}}[1h], 4 * 3600)"
                f" / node_filesystem_size_bytes{{{RUN_DIR_DISK}}}, 0, 1)",
                "in 4 h at this rate",
            ),
        ),
        timeseries(
            "Network bytes per second",
            "Received and sent, by interface (the local stack talks over loopback).",
            "Bps",
            Query(
                "sum by (device) (rate(node_network_receive_bytes_total[1m]))",
                "received {{device}}",
            ),
            Query(
                "sum by (device) (rate(node_network_transmit_bytes_total[1m]))",
                "sent {{device}}",
            ),
        ),
        timeseries(
            "Machine load",
            "Runnable and waiting processes (1 and 5 minute averages) against the core count.",
            "short",
            Query("node_load1", "load 1m"),
            Query("node_load5", "load 5m"),
            Query('count(node_cpu_seconds_total{mode="idle"})', "cores"),
        ),
        timeseries(
            "Disk I/O bytes per second",
            "Read and written, by block device: fsyncs of Kafka and Postgres land here.",
            "Bps",
            Query("sum by (device) (rate(node_disk_read_bytes_total[1m]))", "read {{device}}"),
            Query(
                "sum by (device) (rate(node_disk_written_bytes_total[1m]))", "written {{device}}"
            ),
        ),
    ),
)

DASHBOARDS: tuple[Dashboard, ...] = (
    INTAKE_BOARD,
    PIPELINE_BOARD,
    WAVES_BOARD,
    INFRASTRUCTURE_BOARD,
)
