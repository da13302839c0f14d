#!/usr/bin/env python3
"""Local process stack for Gelombang: Postgres, Redis, Kafka, the services, nginx, Prometheus.

There is no container engine on the dev/CI boxes, so everything runs as plain processes bound to
127.0.0.1. This script is stdlib-only because it runs with the system ``python3`` before the
project's virtualenv exists (it is what creates the virtualenv).

Usage (from anywhere; the repository root is two levels above this file)::

    python3 deploy/local/stack.py up       # everything, including the Gelombang services
    python3 deploy/local/stack.py infra    # same, without the Gelombang services (for tests)
    python3 deploy/local/stack.py status   # one line per component; exit 0 healthy, 3 otherwise
    python3 deploy/local/stack.py down     # stop what we started, in reverse order

``up``/``infra`` are idempotent: a component whose pidfile points at a live process of the
expected kind is left alone ("already running"). A port held by a process this script did not
start is reported as an error instead of being waited on.

Tunables (from the environment, or put them in .run/stack.env, which wins over the
environment; every Gelombang process also gets os.environ overlaid with .run/stack.env):
    GELOMBANG_API_INSTANCES            registration API processes, ports 8000.. (default 2)
    GELOMBANG_GATEWAY_RATE             per-IP request rate at the gateway (default 20r/s)
    GELOMBANG_GATEWAY_BURST            per-IP burst (default 40)
    GELOMBANG_GATEWAY_INTAKE_RATE      sign-ups/s from everyone together (default 600r/s)
    GELOMBANG_GATEWAY_INTAKE_BURST     burst above that rate (default 300)
    GELOMBANG_GATEWAY_CONN_LIMIT       per-IP concurrent connections (default 50)
    GELOMBANG_GATEWAY_UNLIMITED_CIDRS  space-separated CIDRs exempt from the limits (load tests;
                                       default 127.0.0.2/32, the address loadtests bind to)

Layout of the run folder (``.run/``, gitignored; delete a component's folder for a cold start,
but keep ``stack.env``: it holds the keys that encrypt stored PII)::

    .run/stack.env              dev secrets + connection URLs, mode 600, created once
    .run/stack.lock             serialises concurrent up/infra/down invocations
    .run/pids/<name>.pid        pid of each process we started (the only pids we ever signal)
    .run/logs/<name>.log        stdout/stderr (and own logs) of each component
    .run/postgres/{data,run}    cluster (owned by user postgres) and its unix socket
    .run/redis/redis.conf       generated config (append-only file: the NIK hints outlive a restart)
    .run/kafka/                 server.properties, cluster.id, data/ (KRaft log dirs)
    .run/nginx/                 nginx.conf rendered from deploy/local/nginx.conf.template, temp/
    .run/prometheus/            prometheus.yml, data/ (TSDB, 2 days retention)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import http.client
import ipaddress
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# Layout and fixed addresses
# ---------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "local"
RUN = ROOT / ".run"
PIDS = RUN / "pids"
LOGS = RUN / "logs"
STACK_ENV = RUN / "stack.env"
VENV_PY = ROOT / ".venv" / "bin" / "python"
KAFKA_LIBS = ROOT / "deploy" / "kafka" / "target" / "dependency"

HOST = "127.0.0.1"
PG_PORT = 5432
REDIS_PORT = 6379
KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093
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
API_BASE_PORT = 8000
SMTP_PORT = 1025  # the mail sink; its ops port is in the app table
MAIL_DIR = RUN / "mail"  # the sink's maildir: one .eml per message, read by tests
SMS_DIR = RUN / "sms"  # the SMS simulator's outbox.jsonl

PG_ROLE = "gelombang"
PG_PASSWORD = "gelombang"  # noqa: S105 - fixed dev-only credential, loopback-only cluster
PG_DB = "gelombang"

# Secrets are generated once; regenerating them would make stored encrypted data unreadable.
SECRET_KEYS = ("GELOMBANG_NIK_HMAC_KEY", "GELOMBANG_PII_KEY")
ENV_DEFAULTS = {
    "GELOMBANG_ENV": "dev",
    "GELOMBANG_KAFKA_BOOTSTRAP": f"{HOST}:{KAFKA_PORT}",
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


# ---------------------------------------------------------------------------------------------
# Small process / network helpers
# ---------------------------------------------------------------------------------------------


def pidfile(name: str) -> Path:
    return PIDS / f"{name}.pid"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_pid(name: str, pid: int) -> None:
    PIDS.mkdir(parents=True, exist_ok=True)
    pidfile(name).write_text(f"{pid}\n")


def proc_matches(pid: int, marker: str) -> bool:
    """True if pid is a live (non-zombie) process whose command line contains marker.

    Checking the command line, not just the pid, protects against stale pidfiles whose pid the
    kernel has since handed to an unrelated process: we must never signal that one.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    return marker in cmdline.replace(b"\0", b" ").decode(errors="replace")


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "gelombang-stack"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        data = path.read_bytes()[-64_000:].decode(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(data[-lines:]) or f"(log {path} is empty)"


def fail_with_log(what: str, log: Path) -> StackError:
    return StackError(f"{what}\n--- last lines of {log} ---\n{log_tail(log)}\n---")


def run_checked(
    argv: list[str],
    what: str,
    *,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    capture: bool = True,
) -> str:
    """Run a one-shot command; on failure raise StackError carrying its output."""
    try:
        res = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"{what}: timed out after {timeout:.0f}s") from exc
    except FileNotFoundError as exc:
        raise StackError(f"{what}: {exc}") from exc
    out = (res.stdout or b"").decode(errors="replace") if capture else ""
    if res.returncode != 0:
        tail = "\n".join(out.splitlines()[-30:])
        raise StackError(f"{what} failed (exit {res.returncode})\n{tail}".rstrip())
    return out


# ---------------------------------------------------------------------------------------------
# Health checks. Each returns (ok, short detail) and never raises.
# ---------------------------------------------------------------------------------------------

Health = tuple[bool, str]


def check_http(port: int, path: str) -> Health:
    try:
        status, _ = http_get(port, path)
    except (OSError, http.client.HTTPException) as exc:
        return False, f"GET {path}: {exc.__class__.__name__}"
    return status == 200, f"GET {path} -> {status}"


def check_redis() -> Health:
    try:
        with socket.create_connection((HOST, REDIS_PORT), timeout=2) as s:
            s.sendall(b"PING\r\n")
            reply = s.recv(64)
    except OSError as exc:
        return False, f"PING: {exc.__class__.__name__}"
    return reply.startswith(b"+PONG"), f"PING -> {reply.strip().decode(errors='replace')}"


def check_postgres() -> Health:
    tool = pg_bin_dir()
    if tool is None:
        return False, "postgres binaries not installed"
    try:
        res = subprocess.run(
            [str(tool / "pg_isready"), "-h", HOST, "-p", str(PG_PORT), "-t", "2"],
            capture_output=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"pg_isready: {exc.__class__.__name__}"
    return res.returncode == 0, f"pg_isready -> {res.stdout.decode().strip().split(' - ')[-1]}"


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def kafka_metadata(port: int = KAFKA_PORT, timeout: float = 3.0) -> Health:
    """Ask the broker for cluster metadata with a hand-rolled Metadata v4 request.

    An open TCP port is not enough: the broker accepts connections before it has joined the
    KRaft quorum and can answer clients. This is exactly what a client does first, without
    needing the venv (Kafka 4 dropped Metadata v0-v3; v4 is the oldest it still answers).
    """
    client_id = b"gelombang-stack"
    correlation = 4242
    request = struct.pack(">hhih", 3, 4, correlation, len(client_id)) + client_id
    # topics: empty array (we only want brokers), allow_auto_topic_creation: false
    request += struct.pack(">ib", 0, 0)
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exact(s, 4))
            data = _recv_exact(s, size)
        pos = 0

        def take(fmt: str) -> int:
            nonlocal pos
            (value,) = struct.unpack_from(fmt, data, pos)
            pos += struct.calcsize(fmt)
            return int(value)

        def take_str() -> str | None:
            nonlocal pos
            length = take(">h")
            if length < 0:
                return None
            value = data[pos : pos + length].decode()
            pos += length
            return value

        if take(">i") != correlation:
            return False, "metadata: correlation id mismatch"
        take(">i")  # throttle_time_ms
        brokers = take(">i")
        for _ in range(brokers):
            take(">i")  # node_id
            take_str()  # host
            take(">i")  # port
            take_str()  # rack
        cluster = take_str()
        controller = take(">i")
    except (OSError, ConnectionError, struct.error, UnicodeDecodeError) as exc:
        return False, f"metadata: {exc.__class__.__name__}"
    ok = brokers > 0 and controller >= 0
    return ok, f"metadata: {brokers} broker(s), cluster {cluster}"


# ---------------------------------------------------------------------------------------------
# Component model
# ---------------------------------------------------------------------------------------------


@dataclass
class Component:
    name: str
    marker: str  # substring of /proc/<pid>/cmdline proving the pid is really this component
    ports: tuple[int, ...]
    health: Callable[[], Health]
    address: str = ""

    @property
    def log(self) -> Path:
        return LOGS / f"{self.name}.log"

    def running_pid(self) -> int | None:
        pid = read_pid(pidfile(self.name))
        if pid is not None and proc_matches(pid, self.marker):
            return pid
        return None

    def ensure_ports_free(self) -> None:
        # A port we cannot bind is a clear error up front, not a readiness timeout later.
        for port in self.ports:
            if port_open(port):
                raise StackError(
                    f"{self.name}: port {port} is in use by a process gelombang did not start;"
                    " stop it or free the port"
                )


@dataclass(frozen=True)
class AppSpec:
    """One Gelombang process. Adding a service to the stack is one line in app_table()."""

    name: str  # component, pidfile and log name
    module: str  # run as `.venv/bin/python -m <module>`
    port: int  # the port it serves (API port, or ops port for workers)
    job: str | None  # Prometheus job that scrapes <port>/metrics; None = not scraped
    args: tuple[str, ...] = ("--port", "{port}")
    ready: str | None = "/readyz"  # HTTP readiness path; None = TCP connect is enough
    run_dirs: tuple[Path, ...] = ()  # folders under .run/ it writes to, created before start
    # CPU priority (nice). Work that Kafka buffers (verification, simulators, the pool worker)
    # yields the cores to intake during a spike and catches up after it: on a 2-core machine
    # the alternative is that everything slows down together and sign-ups time out.
    nice: int = 0

    def argv(self) -> list[str]:
        return [str(VENV_PY), "-m", self.module, *(a.format(port=self.port) for a in self.args)]

    def present(self) -> bool:
        """The module's source exists (services are written concurrently; absent = skipped)."""
        rel = Path(*self.module.split("."))
        return any(
            (base / rel).with_suffix(".py").is_file() or (base / rel / "__init__.py").is_file()
            for base in (ROOT, ROOT / "libs")
        )

    def component(self) -> Component:
        def health() -> Health:
            if self.ready is None:
                return port_open(self.port), f"tcp {self.port}"
            return check_http(self.port, self.ready)

        return Component(
            name=self.name,
            # Module plus port: distinguishes instances and will not match unrelated pythons.
            marker=" ".join(self.argv()[1:]),
            ports=(self.port,),
            health=health,
            address=f"{HOST}:{self.port}",
        )


def api_instances(env: dict[str, str]) -> int:
    raw = env.get("GELOMBANG_API_INSTANCES", "2")
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if not 1 <= count <= 50:
        raise StackError(f"GELOMBANG_API_INSTANCES must be an integer 1..50, got {raw!r}")
    return count


def app_table(env: dict[str, str]) -> list[AppSpec]:
    """All Gelombang processes, in start order. Prometheus targets are derived from this too."""
    apps = [
        AppSpec(f"registration-{i}", "services.registration.app", API_BASE_PORT + i, "registration")
        for i in range(api_instances(env))
    ]
    apps += [
        # The read model may trail intake by seconds in a spike; the sign-up itself may not.
        AppSpec("projector", "services.registration.worker", 9101, "projector", nice=5),
        AppSpec("assisted", "services.assisted.app", 8010, "assisted"),  # posko officers' lane
        # Waves: the admin API and the worker keeping the eligible pool and relaying decisions.
        AppSpec("selection", "services.selection.app", 8020, "selection"),
        AppSpec("selection-worker", "services.selection.worker", 9125, "selection", nice=10),
        # Simulators stand in for outside systems, which would not share our cores at all.
        AppSpec(
            "civil-registry-sim", "services.simulators.civil_registry", 8091, "simulators", nice=10
        ),
        AppSpec(
            "sms-gateway-sim",
            "services.simulators.sms_gateway",
            8092,
            "simulators",
            args=("--port", "{port}", "--outbox", str(SMS_DIR / "outbox.jsonl")),
            run_dirs=(SMS_DIR,),
            nice=10,
        ),
        # <port> is the ops port (probes, metrics); its /readyz also checks SMTP on 1025 answers.
        AppSpec(
            "mail-sink",
            "services.simulators.mail_sink",
            8093,
            "simulators",
            args=("--ops-port", "{port}", "--port", str(SMTP_PORT), "--maildir", str(MAIL_DIR)),
            run_dirs=(MAIL_DIR,),
            nice=10,
        ),
    ]
    # Verification workers share the Kafka partitions and the due work in Postgres.
    apps += [
        AppSpec(
            f"verification-{i}", "services.verification.worker", 9111 + i, "verification", nice=10
        )
        for i in range(verification_workers(env))
    ]
    return apps


def verification_workers(env: dict[str, str]) -> int:
    raw = env.get("GELOMBANG_VERIFICATION_WORKERS", "2")
    try:
        count = int(raw)
    except ValueError:
        raise StackError(f"GELOMBANG_VERIFICATION_WORKERS must be a number, got {raw!r}") from None
    if not 1 <= count <= 20:
        raise StackError("GELOMBANG_VERIFICATION_WORKERS must be between 1 and 20")
    return count


def infra_components() -> dict[str, Component]:
    return {
        "postgres": Component(
            "postgres",
            str(RUN / "postgres" / "data"),
            (PG_PORT,),
            check_postgres,
            f"{HOST}:{PG_PORT}",
        ),
        # redis-server rewrites its process title to "redis-server 127.0.0.1:6379".
        "redis": Component(
            "redis",
            f"redis-server {HOST}:{REDIS_PORT}",
            (REDIS_PORT,),
            check_redis,
            f"{HOST}:{REDIS_PORT}",
        ),
        "kafka": Component(
            "kafka",
            str(RUN / "kafka" / "server.properties"),
            (KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_FAULTS_PORT),
            kafka_metadata,
            f"{HOST}:{KAFKA_PORT}",
        ),
        # nginx keeps its arguments (including our config path) in the master's title.
        "nginx": Component(
            "nginx",
            str(RUN / "nginx" / "nginx.conf"),
            (GATEWAY_PORT,),
            lambda: check_http(GATEWAY_PORT, "/healthz"),
            f"{HOST}:{GATEWAY_PORT}",
        ),
        "prometheus": Component(
            "prometheus",
            f"--config.file={RUN / 'prometheus' / 'prometheus.yml'}",
            (PROMETHEUS_PORT,),
            lambda: check_http(PROMETHEUS_PORT, "/-/ready"),
            f"{HOST}:{PROMETHEUS_PORT}",
        ),
        **{spec.name: spec.component() for spec in EXPORTERS},
    }


@dataclass(frozen=True)
class ExporterSpec:
    """A Prometheus exporter for one piece of infrastructure, scraped as job <job>."""

    name: str  # component, pidfile and log name
    binary: str
    port: int
    job: str
    args: tuple[str, ...]  # besides the listen address
    env: tuple[tuple[str, str], ...] = ()

    def listen_flag(self) -> str:
        # Single-dash Go flags for the redis/nginx exporters, kingpin's double dash for postgres;
        # both parse "--name=value".
        return f"--web.listen-address={HOST}:{self.port}"

    def component(self) -> Component:
        return Component(
            self.name,
            self.listen_flag(),  # unique per exporter, in its cmdline
            (self.port,),
            lambda: check_http(self.port, "/metrics"),
            f"{HOST}:{self.port}",
        )


EXPORTERS = (
    ExporterSpec(
        "postgres-exporter",
        "prometheus-postgres-exporter",
        POSTGRES_EXPORTER_PORT,
        "postgres",
        ("--disable-settings-metrics",),
        # Dev-only loopback credential (see PG_PASSWORD); it goes to the exporter's environment,
        # never its command line, where `ps` would show it.
        (
            (
                "DATA_SOURCE_NAME",
                f"postgresql://{PG_ROLE}:{PG_PASSWORD}@{HOST}:{PG_PORT}/{PG_DB}?sslmode=disable",
            ),
        ),
    ),
    ExporterSpec(
        "redis-exporter",
        "prometheus-redis-exporter",
        REDIS_EXPORTER_PORT,
        "redis",
        (f"--redis.addr=redis://{HOST}:{REDIS_PORT}",),
    ),
    ExporterSpec(
        "nginx-exporter",
        "prometheus-nginx-exporter",
        NGINX_EXPORTER_PORT,
        "nginx",
        # stub_status, allowed from loopback only (deploy/local/nginx.conf.template).
        (f"--nginx.scrape-uri=http://{HOST}:{GATEWAY_PORT}/nginx_status",),
    ),
)


def start_exporters(infra: dict[str, Component]) -> None:
    for spec in EXPORTERS:
        binary = which(spec.binary)
        if binary is None:
            raise StackError(f"{spec.name}: {spec.binary} not installed")
        env = {**os.environ, **dict(spec.env)}
        start_simple(infra[spec.name], [binary, spec.listen_flag(), *spec.args], APP_TIMEOUT, env)


# ---------------------------------------------------------------------------------------------
# Generic start / wait / stop
# ---------------------------------------------------------------------------------------------


def spawn(
    comp: Component, argv: list[str], env: dict[str, str] | None = None, nice: int = 0
) -> subprocess.Popen[bytes]:
    """Start a long-running process detached from us (own session: it survives our exit and a
    Ctrl-C in this terminal), output appended to its log, pid recorded."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with comp.log.open("ab") as log:
        log.write(
            f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} stack.py starting {comp.name}\n".encode()
        )
        log.flush()
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if nice:
        # Right after the start, before it forks anything: what it starts inherits it.
        os.setpriority(os.PRIO_PROCESS, proc.pid, nice)
        if nice < BACKGROUND_NICE or not join_background_cgroup(proc.pid):
            set_autogroup_nice(proc.pid, nice)
    write_pid(comp.name, proc.pid)
    return proc


# Work that Kafka buffers and that may wait out a spike entirely (verification, the simulators,
# the pool worker): nice 10 or more. The projector (nice 5) decides sign-ups and must keep up.
BACKGROUND_NICE = 10
# cgroup v1's cpu controller: a group's share of a busy CPU against each of the other
# processes' 1024 (nice 10 in its own autogroup still took 0.56 of 2 cores while intake queued).
# 32, not the kernel's minimum of 2: the consumers' event loops must still run now and then
# during a long spike, or their group sessions (30 s) lapse and the groups rebalance.
BACKGROUND_CGROUP = Path("/sys/fs/cgroup/cpu/gelombang-background")
BACKGROUND_CPU_SHARES = 32


def join_background_cgroup(pid: int) -> bool:
    """Move ``pid`` into the background CPU group; False where the kernel or the container
    offers no writable cgroup v1 cpu controller (then autogroup nice is the fallback)."""
    try:
        BACKGROUND_CGROUP.mkdir(exist_ok=True)
        (BACKGROUND_CGROUP / "cpu.shares").write_text(f"{BACKGROUND_CPU_SHARES}\n")
        (BACKGROUND_CGROUP / "cgroup.procs").write_text(f"{pid}\n")
    except OSError:
        return False
    return True


def set_autogroup_nice(pid: int, nice: int) -> None:
    """Give the process's scheduler autogroup the same nice value as the process.

    Every process we start has its own session (``start_new_session``), and with the kernel's
    autogroup scheduling (``/proc/sys/kernel/sched_autogroup_enabled``, on by default) each
    session is its own group: the CPU is shared between groups first, and a process's nice only
    counts inside its group. A niced verification worker therefore got as much CPU as an API
    process (measured: 0.56 of 2 cores at nice 10 while intake queued at 300/s). The group's nice
    is what counts between sessions.
    """
    path = Path(f"/proc/{pid}/autogroup")
    try:
        path.write_text(f"{nice}\n")
    except FileNotFoundError:
        return  # kernel built without autogroup: plain nice is all there is, and it works
    except OSError:
        # Lowering a group's priority needs no privilege, but some containers mount /proc
        # read-only; the processes then compete as equals, which is slower, not wrong.
        say(f"  note: could not set the scheduler group nice of pid {pid} ({path})")


def wait_ready(
    comp: Component,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
    check: Callable[[], Health] | None = None,
) -> None:
    check = check or comp.health
    deadline = time.monotonic() + timeout
    detail = "not checked"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise fail_with_log(
                f"{comp.name} exited with code {proc.returncode} during startup", comp.log
            )
        ok, detail = check()
        if ok:
            return
        time.sleep(0.3)
    raise fail_with_log(f"{comp.name} not ready after {timeout:.0f}s ({detail})", comp.log)


def start_simple(
    comp: Component,
    argv: list[str],
    timeout: float,
    env: dict[str, str] | None = None,
) -> bool:
    """Start comp unless already running. Returns True if it was started now."""
    pid = comp.running_pid()
    if pid is not None:
        say(f"  {comp.name}: already running (pid {pid})")
        return False
    comp.ensure_ports_free()
    t0 = time.monotonic()
    proc = spawn(comp, argv, env)
    wait_ready(comp, timeout, proc)
    say(f"  {comp.name}: started (pid {proc.pid}) in {time.monotonic() - t0:.1f}s")
    return True


def signal_and_wait(pid: int, marker: str, grace: float) -> bool:
    """SIGTERM, wait up to grace, then SIGKILL. Returns True if it needed the SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not proc_matches(pid, marker):
            return False
        time.sleep(0.2)
    # Our processes lead their own session (start_new_session), so the process group is ours
    # too: killing the group also takes down children (nginx workers, uvicorn workers) that
    # would otherwise keep the ports bound after their parent is gone.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    return True


def stop_component(comp: Component) -> None:
    path = pidfile(comp.name)
    pid = read_pid(path)
    if pid is None:
        say(f"  {comp.name}: not running")
        path.unlink(missing_ok=True)
        return
    if not proc_matches(pid, comp.marker):
        say(f"  {comp.name}: not running (stale pidfile {pid} removed)")
        path.unlink(missing_ok=True)
        return
    t0 = time.monotonic()
    killed = signal_and_wait(pid, comp.marker, STOP_GRACE)
    path.unlink(missing_ok=True)
    how = "killed after SIGTERM timeout" if killed else "stopped"
    say(f"  {comp.name}: {how} (pid {pid}) in {time.monotonic() - t0:.1f}s")


# ---------------------------------------------------------------------------------------------
# Step 1-4: packages, venv, Kafka jars, dev secrets
# ---------------------------------------------------------------------------------------------


def pg_bin_dir() -> Path | None:
    """Newest installed PostgreSQL server (Debian puts each major under its own directory)."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    if not found:
        return None
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def ensure_system_packages() -> None:
    wanted: list[tuple[str, bool]] = [
        ("postgresql", pg_bin_dir() is not None),
        ("redis-server", which("redis-server") is not None),
        ("nginx", which("nginx") is not None),
        ("prometheus", which("prometheus") is not None and which("promtool") is not None),
        ("prometheus-postgres-exporter", which("prometheus-postgres-exporter") is not None),
        ("prometheus-redis-exporter", which("prometheus-redis-exporter") is not None),
        ("prometheus-nginx-exporter", which("prometheus-nginx-exporter") is not None),
        ("maven", which("mvn") is not None),
        ("default-jre-headless", which("java") is not None),
        # Browser tests of the sign-up page (tests/e2e/test_web.py) drive Debian's Chromium;
        # Playwright's own browser download does not work offline.
        ("chromium", Path("/usr/bin/chromium").exists()),
    ]
    missing = [pkg for pkg, present in wanted if not present]
    if not missing:
        say("  system packages: all present")
        return
    say(f"  system packages: installing {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Debian packages start their daemons on install (postgres on 5432, redis on 6379, nginx on
    # 80...), which would then squat the ports we need. A policy-rc.d that answers 101 ("action
    # forbidden") stops that; we only add it for the duration of the install if none exists.
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = False
    if not policy.exists():
        policy.write_text("#!/bin/sh\n# temporary, written by gelombang stack.py\nexit 101\n")
        policy.chmod(0o755)
        added_policy = True
    try:
        run_checked(["apt-get", "update"], "apt-get update", env=env, capture=False)
        run_checked(
            ["apt-get", "install", "-y", "--no-install-recommends", *missing],
            "apt-get install",
            env=env,
            capture=False,
        )
    finally:
        if added_policy:
            policy.unlink(missing_ok=True)
    if pg_bin_dir() is None:
        raise StackError("postgresql installed but no /usr/lib/postgresql/*/bin/postgres found")


def uv_command() -> list[str]:
    found = which("uv")
    if found:
        return [found]
    say("  uv not found: installing it with pip")
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "uv"], check=False)
    if res.returncode != 0:
        # Debian's system python refuses global pip installs (PEP 668); a private target
        # directory keeps the system untouched and still gives us `python3 -m uv`.
        target = RUN / "tools"
        run_checked(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "uv"],
            "pip install uv",
        )
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(target), os.environ.get("PYTHONPATH", "")) if p
        )
    found = which("uv")
    # pip may put the script in a directory that is not on PATH (e.g. ~/.local/bin, or a
    # pyenv shim needing a rehash); the package's module entry point works regardless.
    return [found] if found else [sys.executable, "-m", "uv"]


def ensure_venv() -> None:
    t0 = time.monotonic()
    # --frozen: install exactly uv.lock; never re-resolve (the lock is reviewed in git).
    run_checked(
        [*uv_command(), "sync", "--frozen", "--quiet"],
        "uv sync --frozen",
        timeout=900,
        capture=False,
    )
    if not VENV_PY.exists():
        raise StackError(f"uv sync finished but {VENV_PY} does not exist")
    say(f"  venv: synced in {time.monotonic() - t0:.1f}s")


def ensure_kafka_jars() -> None:
    if any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        say("  kafka jars: present")
        return
    say("  kafka jars: fetching with maven (first run only)")
    run_checked(
        ["mvn", "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime"],
        "mvn dependency:copy-dependencies",
        cwd=ROOT / "deploy" / "kafka",
        timeout=900,
        capture=False,
    )
    if not any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        raise StackError(f"maven finished but no kafka_2.13 jar in {KAFKA_LIBS}")


def parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def ensure_stack_env() -> dict[str, str]:
    """Create .run/stack.env once; later only append keys that are missing (never rewrite)."""
    RUN.mkdir(parents=True, exist_ok=True)
    existing = parse_env_file(STACK_ENV) if STACK_ENV.exists() else {}
    additions: list[str] = []
    for key, value in ENV_DEFAULTS.items():
        if key not in existing:
            additions.append(f"{key}={value}")
    for key in SECRET_KEYS:
        if key not in existing:
            additions.append(f"{key}={secrets.token_hex(32)}")
    if additions:
        header = (
            []
            if STACK_ENV.exists()
            else [
                "# Gelombang dev environment, generated once by deploy/local/stack.py.",
                "# Never regenerate the keys: data encrypted with them would become unreadable.",
            ]
        )
        fd = os.open(STACK_ENV, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write("\n".join([*header, *additions]) + "\n")
        say(f"  stack.env: wrote {', '.join(a.split('=', 1)[0] for a in additions)}")
    else:
        say("  stack.env: present")
    STACK_ENV.chmod(0o600)
    return parse_env_file(STACK_ENV)


def app_env() -> dict[str, str]:
    """Environment for Gelombang processes: ours, overlaid with .run/stack.env."""
    env = dict(os.environ)
    if STACK_ENV.exists():
        env.update(parse_env_file(STACK_ENV))
    env["PYTHONUNBUFFERED"] = "1"  # logs reach .run/logs promptly
    return env


# ---------------------------------------------------------------------------------------------
# Step 5: PostgreSQL (as user postgres: the server refuses to run as root)
# ---------------------------------------------------------------------------------------------

PG_DIR = RUN / "postgres"
PG_DATA = PG_DIR / "data"
PG_SOCKET_DIR = PG_DIR / "run"

PG_TUNING = """\
# Written by deploy/local/stack.py on every `up`; included from postgresql.conf.
# Light tuning for a shared 2-core dev box. Durability stays on: a 202 from the API promises the
# registration is not lost, and the read model and pool in Postgres are the source of truth.
shared_buffers = 256MB
max_connections = 200
fsync = on
synchronous_commit = on
full_page_writes = on
password_encryption = 'scram-sha-256'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
"""


def pg_run(pg: Path, *args: str, timeout: float = 60) -> str:
    """Run a PostgreSQL tool as the postgres user, from a directory that user can read."""
    return run_checked(
        ["runuser", "-u", "postgres", "--", str(pg / args[0]), *args[1:]],
        f"postgres: {args[0]}",
        cwd=PG_DIR,
        timeout=timeout,
    )


def ensure_postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        say("  postgres: creating system user 'postgres'")
        run_checked(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "postgres",
            ],
            "useradd postgres",
        )
        return pwd.getpwnam("postgres")


def check_traversable(target: Path, user: str) -> None:
    """The postgres user must be able to reach .run/postgres through every parent directory."""
    res = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-w", str(target), "-a", "-x", str(target)],
        check=False,
    )
    if res.returncode == 0:
        return
    blocking = [str(p) for p in reversed(target.parents) if not os.stat(p).st_mode & stat.S_IXOTH]
    raise StackError(
        f"postgres: user {user} cannot reach {target}; directories without o+x: "
        f"{', '.join(blocking) or '(none found; check ACLs/mounts)'}. "
        "Fix with `chmod o+x <dir>` or move the checkout."
    )


def pg_postmaster_pid() -> int | None:
    return read_pid(PG_DATA / "postmaster.pid")


def start_postgres(comp: Component) -> None:
    pid = comp.running_pid() or pg_postmaster_pid()
    if pid is not None and proc_matches(pid, comp.marker):
        write_pid(comp.name, pid)  # re-adopt after a lost pidfile
        say(f"  postgres: already running (pid {pid})")
        ensure_pg_database()
        return
    comp.ensure_ports_free()
    pg = pg_bin_dir()
    if pg is None:
        raise StackError("postgres: no server binaries in /usr/lib/postgresql/*/bin")
    t0 = time.monotonic()
    user = ensure_postgres_user()

    # .run/ must be traversable by postgres even under a restrictive umask; the secrets in it
    # are protected by their own file modes (stack.env is 600).
    RUN.chmod(RUN.stat().st_mode | 0o711)
    LOGS.mkdir(parents=True, exist_ok=True)
    for d in (PG_DIR, PG_SOCKET_DIR):
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, user.pw_uid, user.pw_gid)
        d.chmod(0o700)
    check_traversable(PG_DIR, "postgres")
    # The server (running as postgres) appends to its log itself via pg_ctl -l.
    comp.log.touch()
    os.chown(comp.log, user.pw_uid, user.pw_gid)

    version = pg.parent.name
    if not (PG_DATA / "PG_VERSION").exists():
        if PG_DATA.exists() and any(PG_DATA.iterdir()):
            raise StackError(
                f"postgres: {PG_DATA} is not empty but has no PG_VERSION "
                "(interrupted initdb?); remove it for a fresh cluster"
            )
        say(f"  postgres: initdb (PostgreSQL {version})")
        # Local socket: trust (only the postgres user can reach the 700 socket directory).
        # TCP: password (scram) for everyone, which is how the services connect.
        pg_run(
            pg,
            "initdb",
            "-D",
            str(PG_DATA),
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--data-checksums",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--username=postgres",
        )
        with (PG_DATA / "postgresql.conf").open("a") as fh:
            fh.write(
                "\n# Gelombang dev settings (deploy/local/stack.py)\ninclude = 'gelombang.conf'\n"
            )
    else:
        data_version = (PG_DATA / "PG_VERSION").read_text().strip()
        if data_version != version:
            raise StackError(
                f"postgres: cluster in {PG_DATA} is version {data_version} but "
                f"the installed server is {version}; dump/upgrade or remove it"
            )
    tuning = PG_DATA / "gelombang.conf"
    tuning.write_text(PG_TUNING)
    os.chown(tuning, user.pw_uid, user.pw_gid)

    # Network settings on the command line so they are visible in `ps` and cannot drift.
    opts = (
        f"-c listen_addresses={HOST} -c port={PG_PORT} -c unix_socket_directories={PG_SOCKET_DIR}"
    )
    try:
        pg_run(
            pg,
            "pg_ctl",
            "-D",
            str(PG_DATA),
            "-l",
            str(comp.log),
            "-o",
            opts,
            "-w",
            "-t",
            str(int(PG_TIMEOUT)),
            "start",
            timeout=PG_TIMEOUT + 10,
        )
    except StackError as exc:
        raise fail_with_log(str(exc), comp.log) from exc
    pid = pg_postmaster_pid()
    if pid is None:
        raise fail_with_log("postgres: started but postmaster.pid is unreadable", comp.log)
    write_pid(comp.name, pid)
    wait_ready(comp, PG_TIMEOUT)
    ensure_pg_database()
    say(f"  postgres: started (pid {pid}) in {time.monotonic() - t0:.1f}s")


def psql(sql: str) -> str:
    pg = pg_bin_dir()
    assert pg is not None
    return pg_run(
        pg,
        "psql",
        "-h",
        str(PG_SOCKET_DIR),
        "-p",
        str(PG_PORT),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-X",
        "-q",
        "-tA",
        "-c",
        sql,
    ).strip()


def ensure_pg_database() -> None:
    """Create role and database once (checked on every up; cheap)."""
    # Plain literals: the names are fixed constants (asserted below), never user input.
    assert (PG_ROLE, PG_PASSWORD, PG_DB) == ("gelombang", "gelombang", "gelombang")
    if psql("SELECT 1 FROM pg_roles WHERE rolname = 'gelombang'") != "1":
        psql("CREATE ROLE gelombang LOGIN PASSWORD 'gelombang'")
        say(f"  postgres: created role {PG_ROLE}")
    if psql("SELECT 1 FROM pg_database WHERE datname = 'gelombang'") != "1":
        psql("CREATE DATABASE gelombang OWNER gelombang")
        say(f"  postgres: created database {PG_DB}")


def stop_postgres(comp: Component) -> None:
    pid = comp.running_pid() or pg_postmaster_pid()
    path = pidfile(comp.name)
    if pid is None or not proc_matches(pid, comp.marker):
        path.unlink(missing_ok=True)
        say("  postgres: not running")
        return
    pg = pg_bin_dir()
    t0 = time.monotonic()
    if pg is None:
        signal_and_wait(pid, comp.marker, STOP_GRACE)
    else:
        # fast = roll back open transactions and checkpoint; immediate = crash-like stop that
        # WAL recovery repairs on next start. Never SIGKILL the postmaster directly.
        try:
            pg_run(
                pg, "pg_ctl", "-D", str(PG_DATA), "-m", "fast", "-w", "-t", "30", "stop", timeout=40
            )
        except StackError:
            pg_run(pg, "pg_ctl", "-D", str(PG_DATA), "-m", "immediate", "-w", "stop", timeout=40)
    path.unlink(missing_ok=True)
    say(f"  postgres: stopped (pid {pid}) in {time.monotonic() - t0:.1f}s")


# ---------------------------------------------------------------------------------------------
# Step 6: Redis
# ---------------------------------------------------------------------------------------------

REDIS_DIR = RUN / "redis"


def start_redis(comp: Component) -> None:
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    conf = REDIS_DIR / "redis.conf"
    conf.write_text(
        "# Written by deploy/local/stack.py. Redis is the edge's fast path; the log decides.\n"
        "# Its data survives a restart (append-only file, fsync once a second) so a restarted\n"
        "# Redis still answers the friendly 409 for people already registered, instead of\n"
        "# letting their repeats through to be refused later by the decider.\n"
        f"bind {HOST}\n"
        "protected-mode yes\n"
        f"port {REDIS_PORT}\n"
        f"dir {REDIS_DIR}\n"
        'save ""\n'
        "appendonly yes\n"
        "appendfsync everysec\n"
        "daemonize no\n"
        'logfile ""\n'
        "loglevel notice\n"
        "tcp-keepalive 60\n"
    )
    redis = which("redis-server")
    if redis is None:
        raise StackError("redis: redis-server not installed")
    start_simple(comp, [redis, str(conf)], REDIS_TIMEOUT)


# ---------------------------------------------------------------------------------------------
# Step 7: Kafka (KRaft, single combined broker + controller)
# ---------------------------------------------------------------------------------------------

KAFKA_DIR = RUN / "kafka"
KAFKA_DATA = KAFKA_DIR / "data"


def kafka_java(main: str, *args: str) -> list[str]:
    java = which("java")
    if java is None:
        raise StackError("kafka: java not installed")
    return [
        java,
        f"-Dlog4j2.configurationFile={HERE / 'kafka-log4j2.properties'}",
        f"-Dgelombang.kafka.log={LOGS / 'kafka.log'}",
        "-cp",
        f"{KAFKA_LIBS}/*",
        main,
        *args,
    ]


def write_kafka_config() -> Path:
    KAFKA_DATA.mkdir(parents=True, exist_ok=True)
    props = KAFKA_DIR / "server.properties"
    props.write_text(
        "# Written by deploy/local/stack.py on every up. Single node = broker + KRaft controller.\n"
        "process.roles=broker,controller\n"
        "node.id=1\n"
        f"controller.quorum.voters=1@{HOST}:{KAFKA_CONTROLLER_PORT}\n"
        f"listeners=PLAINTEXT://{HOST}:{KAFKA_PORT},CONTROLLER://{HOST}:{KAFKA_CONTROLLER_PORT},"
        f"FAULTS://{HOST}:{KAFKA_FAULTS_PORT}\n"
        f"advertised.listeners=PLAINTEXT://{HOST}:{KAFKA_PORT},"
        f"FAULTS://{HOST}:{KAFKA_FAULTS_PROXY_PORT}\n"
        "controller.listener.names=CONTROLLER\n"
        "inter.broker.listener.name=PLAINTEXT\n"
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
        "FAULTS:PLAINTEXT\n"
        f"log.dirs={KAFKA_DATA}\n"
        "# 12 partitions: room for up to 12 consumers per group without re-partitioning.\n"
        "num.partitions=12\n"
        "# One broker, so every internal topic has a single replica.\n"
        "offsets.topic.replication.factor=1\n"
        "transaction.state.log.replication.factor=1\n"
        "transaction.state.log.min.isr=1\n"
        "share.coordinator.state.topic.replication.factor=1\n"
        "share.coordinator.state.topic.min.isr=1\n"
        "# Consumers in tests join one by one; do not wait 3 s for more before assigning.\n"
        "group.initial.rebalance.delay.ms=0\n"
        "# Topics are created explicitly (gelombang.topics) with reviewed settings, never by a\n"
        "# typo in a producer.\n"
        "auto.create.topics.enable=false\n"
    )
    return props


def kafka_cluster_id() -> str:
    path = KAFKA_DIR / "cluster.id"
    # An id starting with "-" reads as an option to the storage tool ("--cluster-id: expected
    # one argument"), so storage was never formatted with one: make a new id. Kafka's own
    # Uuid.randomUuid() skips such ids for the same reason; 1 in 64 of ours started so, and a
    # fresh CI machine failed on one.
    if path.exists() and not (stored := path.read_text().strip()).startswith("-"):
        return stored
    cluster_id = "-"
    while cluster_id.startswith("-"):
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    path.write_text(cluster_id + "\n")
    return cluster_id


def ensure_topics(env: dict[str, str], timeout: float) -> None:
    """Create the application topics once the lead's gelombang.topics module exists."""
    if not (ROOT / "libs" / "gelombang" / "topics.py").is_file():
        say("  kafka: gelombang.topics not written yet; skipping topic creation")
        return
    out = run_checked(
        [str(VENV_PY), "-m", "gelombang.topics", "ensure"],
        "python -m gelombang.topics ensure",
        env=env,
        timeout=max(timeout, 30),
    )
    with (LOGS / "kafka.log").open("a") as fh:
        fh.write(f"=== gelombang.topics ensure\n{out}\n")
    say("  kafka: topics ensured")


def start_kafka(comp: Component, env: dict[str, str]) -> None:
    props = write_kafka_config()
    pid = comp.running_pid()
    if pid is not None:
        say(f"  kafka: already running (pid {pid})")
        ensure_topics(env, KAFKA_TIMEOUT)
        return
    comp.ensure_ports_free()
    if not any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        raise StackError(f"kafka: no jars in {KAFKA_LIBS}")
    t0 = time.monotonic()
    if not (KAFKA_DATA / "meta.properties").exists():
        say("  kafka: formatting storage (first run)")
        run_checked(
            kafka_java(
                "kafka.tools.StorageTool", "format", "-t", kafka_cluster_id(), "-c", str(props)
            ),
            "kafka storage format",
            timeout=120,
        )
    argv = kafka_java("kafka.Kafka", str(props))
    # Heap sized for a dev box that also runs Postgres and the services.
    argv[1:1] = ["-Xms512m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true"]
    proc = spawn(comp, argv)
    wait_ready(comp, KAFKA_TIMEOUT, proc)
    remaining = KAFKA_TIMEOUT - (time.monotonic() - t0)
    try:
        ensure_topics(env, remaining)
    except StackError as exc:
        raise fail_with_log(str(exc), comp.log) from exc
    say(f"  kafka: started (pid {proc.pid}) in {time.monotonic() - t0:.1f}s")


# ---------------------------------------------------------------------------------------------
# Steps 8-9: migrations and the Gelombang services
# ---------------------------------------------------------------------------------------------


def run_migrations(env: dict[str, str]) -> None:
    """Apply every service's migrations (each service that owns tables has a migrate.py)."""
    modules = sorted(
        f"services.{path.parent.name}.migrate" for path in (ROOT / "services").glob("*/migrate.py")
    )
    if not modules:
        say("  migrations: no service has a migrate module yet; skipped")
        return
    t0 = time.monotonic()
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / "migrate.log"
    for module in modules:
        try:
            out = run_checked(
                [str(VENV_PY), "-m", module],
                f"migrations (python -m {module})",
                env=env,
                timeout=300,
            )
        except StackError as exc:
            with log.open("a") as fh:
                fh.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {module} FAILED\n{exc}\n")
            raise
        with log.open("a") as fh:
            fh.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {module}\n{out}\n")
    say(f"  migrations: {len(modules)} services applied in {time.monotonic() - t0:.1f}s")


def start_apps(apps: list[AppSpec], env: dict[str, str]) -> None:
    pending: list[tuple[Component, subprocess.Popen[bytes], float]] = []
    for app in apps:
        if not app.present():
            say(f"  {app.name}: module {app.module} not written yet; skipped")
            continue
        comp = app.component()
        pid = comp.running_pid()
        if pid is not None:
            say(f"  {comp.name}: already running (pid {pid})")
            continue
        comp.ensure_ports_free()
        for folder in app.run_dirs:
            folder.mkdir(parents=True, exist_ok=True)
        pending.append((comp, spawn(comp, app.argv(), env, app.nice), time.monotonic()))
    # Launch all, then wait: start-up is mostly imports and connecting to Kafka/Postgres, so
    # waiting after launching everything costs roughly the slowest start, not the sum.
    for comp, proc, t0 in pending:
        wait_ready(comp, max(1.0, APP_TIMEOUT - (time.monotonic() - t0)), proc)
        say(f"  {comp.name}: started (pid {proc.pid}) in {time.monotonic() - t0:.1f}s")


# ---------------------------------------------------------------------------------------------
# Step 10: nginx gateway
# ---------------------------------------------------------------------------------------------

NGINX_DIR = RUN / "nginx"
WEB_ROOT = ROOT / "web"
PLACEHOLDER_PAGE = """\
<!doctype html>
<html lang="id">
<head><meta charset="utf-8"><title>Gelombang — pendaftaran</title></head>
<body><h1>Gelombang — pendaftaran</h1><p>Halaman pendaftaran sedang disiapkan.</p></body>
</html>
"""


def render_template(template: str, values: dict[str, str]) -> str:
    out = template
    for key, value in values.items():
        out = out.replace("{{" + key + "}}", value)
    left = sorted(set(re.findall(r"\{\{([A-Z_]+)\}\}", out)))
    if left:
        raise StackError(f"nginx template has unfilled placeholders: {', '.join(left)}")
    return out


LOADTEST_SOURCE_CIDR = "127.0.0.2/32"


def _nginx_rate(env: dict[str, str], key: str, default: str) -> str:
    rate = env.get(key, default).strip()
    if rate.isdigit():
        rate += "r/s"
    if not re.fullmatch(r"[1-9]\d*r/[sm]", rate):
        raise StackError(f"{key} must look like {default} or 600r/m, got {rate!r}")
    return rate


def _positive(env: dict[str, str], key: str, default: str) -> str:
    value = env.get(key, default).strip()
    if not value.isdigit() or int(value) < 1:
        raise StackError(f"{key} must be a positive integer, got {value!r}")
    return value


def gateway_settings(env: dict[str, str]) -> dict[str, str]:
    cidrs: list[str] = []
    # The load generators (make bench, make load) bind to 127.0.0.2, so they can run at
    # 80,000/min while everything else on 127.0.0.1 (people, tests) keeps the public limits.
    for raw in env.get("GELOMBANG_GATEWAY_UNLIMITED_CIDRS", LOADTEST_SOURCE_CIDR).split():
        try:
            cidrs.append(str(ipaddress.ip_network(raw, strict=False)))
        except ValueError as exc:
            raise StackError(f"GELOMBANG_GATEWAY_UNLIMITED_CIDRS: {exc}") from exc
    return {
        # The intake ceiling for sign-ups from everyone together (the measured knee, README
        # Performance); a bigger machine raises it.
        "INTAKE_RATE": _nginx_rate(env, "GELOMBANG_GATEWAY_INTAKE_RATE", "600r/s"),
        "INTAKE_BURST": _positive(env, "GELOMBANG_GATEWAY_INTAKE_BURST", "300"),
        "RATE": _nginx_rate(env, "GELOMBANG_GATEWAY_RATE", "20r/s"),
        "BURST": _positive(env, "GELOMBANG_GATEWAY_BURST", "40"),
        "CONN_LIMIT": _positive(env, "GELOMBANG_GATEWAY_CONN_LIMIT", "50"),
        "UNLIMITED_CIDRS": "\n".join(f"        {c} 0;" for c in cidrs)
        or "        # (none: GELOMBANG_GATEWAY_UNLIMITED_CIDRS is empty)",
    }


def write_nginx_config(env: dict[str, str]) -> tuple[Path, bool]:
    """Render .run/nginx/nginx.conf; returns (path, changed)."""
    (NGINX_DIR / "temp").mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    if not (WEB_ROOT / "index.html").exists():
        WEB_ROOT.mkdir(parents=True, exist_ok=True)
        (WEB_ROOT / "index.html").write_text(PLACEHOLDER_PAGE)
    servers = "\n".join(
        f"        server {HOST}:{API_BASE_PORT + i};" for i in range(api_instances(env))
    )
    text = render_template(
        (HERE / "nginx.conf.template").read_text(),
        {
            "PID_FILE": str(NGINX_DIR / "nginx.pid"),
            "ERROR_LOG": str(LOGS / "nginx.log"),
            "ACCESS_LOG": str(LOGS / "nginx-access.log"),
            "TEMP_DIR": str(NGINX_DIR / "temp"),
            "LISTEN": f"{HOST}:{GATEWAY_PORT}",
            "WEB_ROOT": str(WEB_ROOT),
            "UPSTREAM_SERVERS": servers,
            **gateway_settings(env),
        },
    )
    conf = NGINX_DIR / "nginx.conf"
    changed = not conf.exists() or conf.read_text() != text
    if changed:
        conf.write_text(text)
    return conf, changed


def nginx_base() -> list[str]:
    nginx = which("nginx")
    if nginx is None:
        raise StackError("nginx: not installed")
    # -p/-e keep nginx from touching /etc and /var/log/nginx even while parsing.
    return [
        nginx,
        "-p",
        f"{NGINX_DIR}/",
        "-e",
        str(LOGS / "nginx.log"),
        "-c",
        str(NGINX_DIR / "nginx.conf"),
    ]


def start_nginx(comp: Component, env: dict[str, str]) -> None:
    _, changed = write_nginx_config(env)
    run_checked([*nginx_base(), "-t", "-q"], "nginx -t (config test of .run/nginx/nginx.conf)")
    pid = comp.running_pid()
    if pid is not None:
        if changed:
            # New instance count or limits: SIGHUP = graceful reload, no dropped connections.
            os.kill(pid, signal.SIGHUP)
            say(f"  nginx: already running (pid {pid}); config changed, reloaded")
        else:
            say(f"  nginx: already running (pid {pid})")
        return
    # Foreground master (daemon off) so the pid we record is the master's and stays ours.
    start_simple(comp, [*nginx_base(), "-g", "daemon off;"], NGINX_TIMEOUT)


# ---------------------------------------------------------------------------------------------
# Step 11: Prometheus
# ---------------------------------------------------------------------------------------------

PROM_DIR = RUN / "prometheus"
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"


def prometheus_config(apps: list[AppSpec]) -> str:
    jobs: dict[str, list[str]] = {"prometheus": [f"{HOST}:{PROMETHEUS_PORT}"]}
    for exporter in EXPORTERS:
        jobs[exporter.job] = [f"{HOST}:{exporter.port}"]
    for app in apps:
        # Only scrape what exists, so an absent service does not show up as a failing target.
        if app.job is not None and app.present():
            jobs.setdefault(app.job, []).append(f"{HOST}:{app.port}")
    lines = [
        "# Written by deploy/local/stack.py on every up; targets come from its app table.",
        "global:",
        "  scrape_interval: 5s",
        "  evaluation_interval: 5s",
    ]
    rule_files = sorted(RULES_DIR.glob("*.yml"))
    if rule_files:
        # The digest makes an edited rule file a changed config, so `up` reloads Prometheus.
        digest = hashlib.sha256(b"".join(f.read_bytes() for f in rule_files)).hexdigest()[:16]
        lines += [
            f"# rules digest {digest}",
            "rule_files:",
            f"  - {json.dumps(str(RULES_DIR / '*.yml'))}",
        ]
    lines.append("scrape_configs:")
    for job, targets in jobs.items():
        lines += [
            f"  - job_name: {json.dumps(job)}",
            "    metrics_path: /metrics",
            "    static_configs:",
            f"      - targets: {json.dumps(targets)}",
        ]
    return "\n".join(lines) + "\n"


def start_prometheus(comp: Component, apps: list[AppSpec]) -> None:
    (PROM_DIR / "data").mkdir(parents=True, exist_ok=True)
    conf = PROM_DIR / "prometheus.yml"
    text = prometheus_config(apps)
    changed = not conf.exists() or conf.read_text() != text
    if changed:
        conf.write_text(text)
    promtool, prometheus = which("promtool"), which("prometheus")
    if promtool is None or prometheus is None:
        raise StackError("prometheus: prometheus/promtool not installed")
    run_checked([promtool, "check", "config", str(conf)], "promtool check config")
    pid = comp.running_pid()
    if pid is not None:
        if changed:
            # --web.enable-lifecycle lets us apply new targets without losing in-memory state.
            conn = http.client.HTTPConnection(HOST, PROMETHEUS_PORT, timeout=10)
            try:
                conn.request("POST", "/-/reload")
                status = conn.getresponse().status
            finally:
                conn.close()
            say(f"  prometheus: already running (pid {pid}); config changed, reload -> {status}")
        else:
            say(f"  prometheus: already running (pid {pid})")
        return
    start_simple(
        comp,
        [
            prometheus,
            f"--config.file={conf}",
            f"--storage.tsdb.path={PROM_DIR / 'data'}",
            f"--web.listen-address={HOST}:{PROMETHEUS_PORT}",
            "--storage.tsdb.retention.time=2d",
            "--web.enable-lifecycle",
        ],
        PROMETHEUS_TIMEOUT,
    )


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def stack_lock() -> Iterator[None]:
    """Serialise up/infra/down: tests may call this script while someone else does too."""
    RUN.mkdir(parents=True, exist_ok=True)
    with (RUN / "stack.lock").open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another stack.py run to finish...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield  # the lock is released when the file closes


def require_root() -> None:
    if os.geteuid() != 0:
        raise StackError(
            "this command must run as root (it installs packages and drops to "
            "the postgres user to run PostgreSQL)"
        )


def status_rows(comps: list[Component]) -> tuple[list[list[str]], bool]:
    rows: list[list[str]] = []
    all_ok = True
    for comp in comps:
        pid = comp.running_pid()
        if comp.name == "postgres" and pid is None:
            pm = pg_postmaster_pid()
            pid = pm if pm is not None and proc_matches(pm, comp.marker) else None
        ok, detail = comp.health()
        all_ok = all_ok and ok and pid is not None
        rows.append(
            [
                comp.name,
                "running" if pid is not None else "stopped",
                str(pid) if pid is not None else "-",
                comp.address,
                ("ok" if ok else "FAIL") + f" ({detail})",
                str(comp.log.relative_to(ROOT)),
            ]
        )
    return rows, all_ok


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        say("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def cmd_up(with_apps: bool) -> int:
    require_root()
    t_start = time.monotonic()
    steps: list[tuple[str, float]] = []

    def step(label: str, fn: Callable[[], object]) -> None:
        say(f"[{label}]")
        t0 = time.monotonic()
        fn()
        steps.append((label, time.monotonic() - t0))

    with stack_lock():
        step("system packages", ensure_system_packages)
        step("python venv", ensure_venv)
        step("kafka jars", ensure_kafka_jars)
        step("dev secrets", ensure_stack_env)
        env = app_env()
        infra = infra_components()
        apps = app_table(env)
        step("postgres", lambda: start_postgres(infra["postgres"]))
        step("redis", lambda: start_redis(infra["redis"]))
        step("kafka", lambda: start_kafka(infra["kafka"], env))
        step("migrations", lambda: run_migrations(env))
        if with_apps:
            step("services", lambda: start_apps(apps, env))
        else:
            say("[services]\n  skipped (infra mode)")
        step("gateway", lambda: start_nginx(infra["nginx"], env))
        step("exporters", lambda: start_exporters(infra))
        step("prometheus", lambda: start_prometheus(infra["prometheus"], apps))

    comps = list(infra.values())
    if with_apps:
        comps[3:3] = [a.component() for a in apps if a.present()]
    rows, ok = status_rows(comps)
    # Every component passed its readiness wait above; one that fails this last look is still
    # running but briefly unready, e.g. a Kafka consumer whose group is rebalancing as the
    # second worker joins. Give it a minute to settle before calling the stack broken.
    settle_until = time.monotonic() + SETTLE_S
    while not ok and time.monotonic() < settle_until:
        time.sleep(2)
        rows, ok = status_rows(comps)
    say("")
    print_table(["COMPONENT", "STATE", "PID", "ADDRESS", "HEALTH", "LOG"], rows)
    say("")
    say(
        "timings: "
        + ", ".join(f"{label} {secs:.1f}s" for label, secs in steps)
        + f"; total {time.monotonic() - t_start:.1f}s"
    )
    if not ok:
        say("some components are unhealthy")
        return 1
    return 0


def known_app_components(env: dict[str, str]) -> list[Component]:
    """App components from the table, plus any app pidfile left from a larger instance count."""
    comps = {a.name: a.component() for a in app_table(env)}
    infra = set(infra_components())
    for path in sorted(PIDS.glob("*.pid")) if PIDS.exists() else []:
        name = path.stem
        if name in infra or name in comps:
            continue
        if name.startswith("registration-") and name.split("-", 1)[1].isdigit():
            i = int(name.split("-", 1)[1])
            spec = AppSpec(name, "services.registration.app", API_BASE_PORT + i, "registration")
            comps[name] = spec.component()
        else:
            # Unknown: only ever signal it if it is one of our venv pythons.
            comps[name] = Component(name, f"{VENV_PY} -m ", (), lambda: (False, "unknown"))
    return list(comps.values())


def cmd_down() -> int:
    require_root()
    t0 = time.monotonic()
    with stack_lock():
        env = app_env()
        infra = infra_components()
        stop_component(infra["prometheus"])
        for exporter in EXPORTERS:
            stop_component(infra[exporter.name])
        stop_component(infra["nginx"])
        for comp in reversed(known_app_components(env)):
            stop_component(comp)
        stop_component(infra["kafka"])
        stop_component(infra["redis"])
        stop_postgres(infra["postgres"])
    say(f"down in {time.monotonic() - t0:.1f}s")
    return 0


def cmd_restart(names: list[str]) -> int:
    """Stop the named app components (after a code change), then bring the stack up again."""
    require_root()
    with stack_lock():
        env = app_env()
        apps = {c.name: c for c in known_app_components(env)}
        unknown = [n for n in names if n not in apps]
        if unknown:
            raise StackError(
                f"not an app component: {', '.join(unknown)} (known: {', '.join(apps)})"
            )
        for name in names:
            stop_component(apps[name])
    return cmd_up(with_apps=True)


def cmd_status(infra_only: bool) -> int:
    env = app_env()
    infra = infra_components()
    comps = list(infra.values())
    if not infra_only:
        apps = [a.component() for a in app_table(env) if a.present()]
        comps[3:3] = apps
    rows, ok = status_rows(comps)
    print_table(["COMPONENT", "STATE", "PID", "ADDRESS", "HEALTH", "LOG"], rows)
    return 0 if ok else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the Gelombang stack as local processes (see module docstring)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start infrastructure and Gelombang services")
    sub.add_parser("infra", help="start infrastructure only (for tests)")
    sub.add_parser("down", help="stop everything this script started")
    rs = sub.add_parser("restart", help="restart app components by name, e.g. registration-0")
    rs.add_argument("names", nargs="+")
    st = sub.add_parser("status", help="show components; exit 0 if healthy, 3 otherwise")
    st.add_argument("--infra", action="store_true", help="only check infrastructure")
    args = parser.parse_args(argv)
    try:
        if args.command in ("up", "infra"):
            return cmd_up(with_apps=args.command == "up")
        if args.command == "down":
            return cmd_down()
        if args.command == "restart":
            return cmd_restart(args.names)
        return cmd_status(infra_only=args.infra)
    except StackError as exc:
        say(f"error: {exc}")
        if args.command in ("up", "infra", "restart"):
            say("(components already started are left running; `stack.py down` stops them)")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
