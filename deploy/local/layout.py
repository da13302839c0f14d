"""Where everything lives and how it is reached: paths under the repository and .run/, the fixed
loopback ports, the dev defaults written to .run/stack.env, readiness budgets, and the error and
output helpers every other module of the local stack uses (see stack.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "local"
RUN = ROOT / ".run"
PIDS = RUN / "pids"
LOGS = RUN / "logs"
SUPERVISION = RUN / "supervision"  # the watcher's heartbeat and <app>.failed marks
STACK_ENV = RUN / "stack.env"
VENV_PY = ROOT / ".venv" / "bin" / "python"
KAFKA_LIBS = ROOT / "deploy" / "kafka" / "target" / "dependency"

HOST = "127.0.0.1"
PG_PORT = 5432
REDIS_PORT = 6379
KAFKA_PORT = 9092
# A third listener for fault tests: it advertises the port of the fault-injecting TCP proxy that
# `make chaos` runs in front of it, so a client bootstrapped there keeps talking through the proxy
# (Kafka clients connect to the advertised address, not the one they bootstrapped from).
KAFKA_FAULTS_PORT = 9094
KAFKA_FAULTS_PROXY_PORT = 19094
GATEWAY_PORT = 8080
PROMETHEUS_PORT = 9090
# Exporters for the infrastructure (Debian's prometheus-*-exporter packages), on their usual ports.
POSTGRES_EXPORTER_PORT = 9187
REDIS_EXPORTER_PORT = 9121
NGINX_EXPORTER_PORT = 9113
NODE_EXPORTER_PORT = 9100  # the machine: CPU, memory, disks, network
API_BASE_PORT = 8000
SMTP_PORT = 1025  # the mail sink; its ops port is in the app table
MAIL_DIR = RUN / "mail"  # the sink's maildir: one .eml per message, read by tests
SMS_DIR = RUN / "sms"  # the SMS simulator's outbox.jsonl

PG_ROLE = "gelombang"
PG_PASSWORD = "gelombang"  # noqa: S105 - fixed dev-only credential, loopback-only cluster
PG_DB = "gelombang"

# Kafka's principals: the stack's super user, and one per service that uses Kafka (the same
# names as gelombang.kafka_access.PRINCIPALS, which holds their ACLs; a unit test keeps the two
# equal). Each service's password is GELOMBANG_KAFKA_PASSWORD_<NAME>; the admin's is
# GELOMBANG_KAFKA_PASSWORD, with GELOMBANG_KAFKA_USERNAME written as Kafka first starts with SASL.
KAFKA_ADMIN = "admin"
KAFKA_PRINCIPALS = ("registration", "assisted", "projector", "verification", "selection")

# Secrets are generated once; regenerating them would make stored encrypted data unreadable (and
# the SCRAM credentials stored in Kafka's metadata stale).
SECRET_KEYS = (
    "GELOMBANG_NIK_HMAC_KEY",
    "GELOMBANG_PII_KEY",
    "GELOMBANG_KAFKA_PASSWORD",
    *(f"GELOMBANG_KAFKA_PASSWORD_{name.upper()}" for name in KAFKA_PRINCIPALS),
)
ENV_DEFAULTS = {
    "GELOMBANG_ENV": "dev",
    "GELOMBANG_KAFKA_BROKERS": "1",
    "GELOMBANG_KAFKA_BOOTSTRAP": f"{HOST}:{KAFKA_PORT}",
    "GELOMBANG_KAFKA_REPLICATION_FACTOR": "1",
    "GELOMBANG_DATABASE_URL": (f"postgresql://{PG_ROLE}:{PG_PASSWORD}@{HOST}:{PG_PORT}/{PG_DB}"),
    "GELOMBANG_REDIS_URL": f"redis://{HOST}:{REDIS_PORT}/0",
    "GELOMBANG_PUBLIC_BASE_URL": f"http://{HOST}:{GATEWAY_PORT}",
}

# Readiness budgets (seconds). Kafka's JVM start plus KRaft election is the slow one.
PG_TIMEOUT = 30.0
REDIS_TIMEOUT = 30.0
KAFKA_TIMEOUT = 90.0
APP_TIMEOUT = 60.0
NGINX_TIMEOUT = 30.0
PROMETHEUS_TIMEOUT = 60.0
STOP_GRACE = 20.0  # Kafka's controlled shutdown alone can take ~10 s
SETTLE_S = 60.0  # how long `up` lets a ready-then-flapping component settle (see cmd_up)

# Some distributions keep daemons in sbin directories that are not on a non-login PATH.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


class StackError(Exception):
    """A failure with a message meant for the person running the script."""


def say(msg: str) -> None:
    print(msg, flush=True)


def which(binary: str) -> str | None:
    return shutil.which(binary, path=SEARCH_PATH)
