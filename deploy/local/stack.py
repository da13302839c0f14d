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
    python3 deploy/local/stack.py restart projector registration-0  # stop these, then up

``up``/``infra`` are idempotent: a component whose pidfile points at a live process of the
expected kind is left alone ("already running"). A port held by a process this script did not
start is reported as an error instead of being waited on.

This file is the command line (up/infra/down/restart/status, the component table, the status
table). The work is in sibling modules, one job each, imported as ``deploy.local.*``:
    layout.py         paths, fixed ports, stack.env defaults, timeouts, StackError, say, which
    processes.py      the shared process runner: Component, pidfiles, spawn, wait, stop
    installs.py       system packages, uv venv, Kafka jars, .run/stack.env and the apps' env
    postgres.py       PostgreSQL: initdb, tuning, start/stop, role and database, health
    redis_server.py   Redis: config, start, health
    kafka_broker.py   Kafka: size, storage format, start, topics, metadata health check
    kafka_cluster.py  Kafka's pure layout (ports, server.properties, argv), shared with tests
    kafka_probe.py    the metadata health check through confluent-kafka, run in the venv
    apps.py           the Gelombang processes (app table), migrations, starting them
    supervision.py    the watcher `up` starts: an app that dies is started again (backoff,
                      crash-loop limit); stdlib only, started as its own process
    gateway.py        nginx rendered from nginx.conf.template, with the gateway limits
    monitoring.py     exporters, Prometheus (config from the app table), dashboard addresses

Tunables (from the environment, or put them in .run/stack.env, which wins over the
environment; every Gelombang process also gets os.environ overlaid with .run/stack.env):
    GELOMBANG_API_INSTANCES            registration API processes, ports 8000.. (default 2)
    GELOMBANG_VERIFICATION_WORKERS     verification workers, ops ports 9111.. (default 2, 1..20)
    GELOMBANG_KAFKA_BROKERS            1 (default) or 3 (make up KAFKA_BROKERS=3): fixed once
                                       Kafka's storage exists; switching needs `make clean`
    GELOMBANG_GATEWAY_RATE             per-IP request rate at the gateway (default 20r/s)
    GELOMBANG_GATEWAY_BURST            per-IP burst (default 40)
    GELOMBANG_GATEWAY_PAGE_RATE        per-IP rate for the page's own files (default 200r/s)
    GELOMBANG_GATEWAY_PAGE_BURST       per-IP burst for the page's own files (default 400)
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
    .run/supervision/           the watcher's heartbeat, <app>.failed for an app left down
    .run/postgres/{data,run}    cluster (owned by user postgres) and its unix socket
    .run/redis/redis.conf       generated config (append-only file: the NIK hints outlive a restart)
    .run/kafka/                 server.properties, cluster.id, data/ (KRaft log dirs)
    .run/kafka-2/, .run/kafka-3/  the other two nodes with KAFKA_BROKERS=3
    .run/nginx/                 nginx.conf rendered from deploy/gateway/nginx.conf.template, temp/
    .run/prometheus/            prometheus.yml, data/ (TSDB, 2 days retention)
    .run/mail/, .run/sms/       the mail sink's maildir and the SMS simulator's outbox.jsonl

Prometheus also serves the dashboards as console pages, straight from the repository
(deploy/prometheus/consoles/, generated by `python -m deploy.dashboards write`): `status` prints
their addresses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run as a script (system python3, before the venv exists): the repository root goes on the
# path so the sibling modules import as deploy.local.* (the Kafka layout module is also shared
# with the tests that start a cluster of their own).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from deploy.local.apps import AppSpec, app_table, run_migrations, start_apps
from deploy.local.gateway import start_nginx
from deploy.local.installs import (
    app_env,
    ensure_kafka_jars,
    ensure_stack_env,
    ensure_system_packages,
    ensure_venv,
)
from deploy.local.kafka_broker import (
    configure_kafka_size,
    kafka_component,
    kafka_nodes,
    start_kafka,
)
from deploy.local.layout import (
    API_BASE_PORT,
    GATEWAY_PORT,
    HOST,
    PG_PORT,
    PIDS,
    PROMETHEUS_PORT,
    REDIS_PORT,
    ROOT,
    RUN,
    SETTLE_S,
    VENV_PY,
    StackError,
    say,
)
from deploy.local.monitoring import EXPORTERS, print_dashboards, start_exporters, start_prometheus
from deploy.local.postgres import check_postgres, pg_postmaster_pid, start_postgres, stop_postgres
from deploy.local.processes import (
    Component,
    check_http,
    proc_matches,
    stack_lock,
    stop_component,
)
from deploy.local.redis_server import check_redis, start_redis
from deploy.local.supervision import (
    SUPERVISOR,
    read_failure,
    start_supervision,
    supervisor_component,
)

# ---------------------------------------------------------------------------------------------
# The components
# ---------------------------------------------------------------------------------------------


def infra_components(env: dict[str, str]) -> dict[str, Component]:
    """Stores first (Postgres, Redis, the Kafka nodes), then the gateway, Prometheus, exporters."""
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
        **{node.name: kafka_component(node, env) for node in kafka_nodes(env)},
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


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


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
        failure = read_failure(comp.name) if pid is None else None
        if failure is not None:
            detail = f"{detail}; supervision: {failure}"
        rows.append(
            [
                comp.name,
                "running" if pid is not None else "FAILED" if failure is not None else "stopped",
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
        step("kafka size", configure_kafka_size)
        env = app_env()
        infra = infra_components(env)
        apps = app_table(env)
        step("postgres", lambda: start_postgres(infra["postgres"]))
        step("redis", lambda: start_redis(infra["redis"]))
        step("kafka", lambda: start_kafka(infra, env))
        step("migrations", lambda: run_migrations(env))
        if with_apps:
            step("services", lambda: start_apps(apps, env))
            step("supervision", lambda: start_supervision(env))
        else:
            say("[services]\n  skipped (infra mode)")
        step("gateway", lambda: start_nginx(infra["nginx"], env))
        step("exporters", lambda: start_exporters(infra))
        step("prometheus", lambda: start_prometheus(infra["prometheus"], apps))

    comps = list(infra.values())
    if with_apps:
        comps[stores_end(comps) : stores_end(comps)] = app_rows(apps)
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
    print_dashboards()
    say(
        "timings: "
        + ", ".join(f"{label} {secs:.1f}s" for label, secs in steps)
        + f"; total {time.monotonic() - t_start:.1f}s"
    )
    if not ok:
        say("some components are unhealthy")
        return 1
    return 0


def stores_end(comps: list[Component]) -> int:
    """Where the app rows go in a status table: after the stores, before the gateway."""
    return [c.name for c in comps].index("nginx")


def app_rows(apps: list[AppSpec]) -> list[Component]:
    """The apps of the table that exist, then the watcher that keeps them running."""
    return [*(a.component() for a in apps if a.present()), supervisor_component()]


def known_app_components(env: dict[str, str]) -> list[Component]:
    """App components from the table, plus any app pidfile left from a larger instance count."""
    comps = {a.name: a.component() for a in app_table(env)}
    infra = set(infra_components(env))
    for path in sorted(PIDS.glob("*.pid")) if PIDS.exists() else []:
        name = path.stem
        if name in infra or name in comps or name == SUPERVISOR:
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
        infra = infra_components(env)
        # The watcher first: it would start again the apps stopped below once the lock is free
        # (it looks at their pidfiles, which stop_component removes; this is belt and braces).
        stop_component(supervisor_component())
        stop_component(infra["prometheus"])
        for exporter in EXPORTERS:
            stop_component(infra[exporter.name])
        stop_component(infra["nginx"])
        for comp in reversed(known_app_components(env)):
            stop_component(comp)
        for node in reversed(kafka_nodes(env)):
            stop_component(infra[node.name])
        stop_component(infra["redis"])
        stop_postgres(infra["postgres"])
    say(f"down in {time.monotonic() - t0:.1f}s")
    return 0


def cmd_restart(names: list[str]) -> int:
    """Stop the named components (after a code change), then bring the stack up again.

    App components, and Prometheus and the exporters (stateless, or their data on disk): not the
    stores, whose restart is a fault test of its own (`make chaos`).
    """
    require_root()
    with stack_lock():
        env = app_env()
        infra = infra_components(env)
        restartable = {c.name: c for c in known_app_components(env)}
        restartable |= {n: infra[n] for n in ("prometheus", *(e.name for e in EXPORTERS))}
        restartable[SUPERVISOR] = supervisor_component()
        unknown = [n for n in names if n not in restartable]
        if unknown:
            raise StackError(
                f"cannot restart: {', '.join(unknown)} (known: {', '.join(restartable)})"
            )
        for name in names:
            stop_component(restartable[name])
    return cmd_up(with_apps=True)


def cmd_status(infra_only: bool) -> int:
    env = app_env()
    infra = infra_components(env)
    comps = list(infra.values())
    if not infra_only:
        comps[stores_end(comps) : stores_end(comps)] = app_rows(app_table(env))
    rows, ok = status_rows(comps)
    print_table(["COMPONENT", "STATE", "PID", "ADDRESS", "HEALTH", "LOG"], rows)
    say("")
    print_dashboards()
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
