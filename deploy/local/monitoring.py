"""Steps 11-12: the infrastructure's Prometheus exporters, Prometheus itself (its scrape config
derived from the app table) and the dashboards it serves as console pages."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from deploy.local.apps import AppSpec
from deploy.local.layout import (
    APP_TIMEOUT,
    GATEWAY_PORT,
    HOST,
    NGINX_EXPORTER_PORT,
    NODE_EXPORTER_PORT,
    PG_DB,
    PG_PASSWORD,
    PG_PORT,
    PG_ROLE,
    POSTGRES_EXPORTER_PORT,
    PROMETHEUS_PORT,
    PROMETHEUS_TIMEOUT,
    REDIS_EXPORTER_PORT,
    REDIS_PORT,
    ROOT,
    RUN,
    StackError,
    say,
    which,
)
from deploy.local.processes import (
    Component,
    check_http,
    restart_if_flags_changed,
    run_checked,
    start_simple,
)

# ---------------------------------------------------------------------------------------------
# Exporters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExporterSpec:
    """Debian's Prometheus exporter for one piece of infrastructure, scraped as job <job>."""

    job: str
    port: int
    args: tuple[str, ...]  # besides the listen address
    env: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """Its component, pidfile and log name."""
        return f"{self.job}-exporter"

    @property
    def binary(self) -> str:
        # Debian names every exporter package, and its binary, this way.
        return f"prometheus-{self.job}-exporter"

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
        "postgres",
        POSTGRES_EXPORTER_PORT,
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
        "redis",
        REDIS_EXPORTER_PORT,
        (f"--redis.addr=redis://{HOST}:{REDIS_PORT}",),
    ),
    ExporterSpec(
        "nginx",
        NGINX_EXPORTER_PORT,
        # stub_status, allowed from loopback only (deploy/gateway/nginx.conf.template).
        (f"--nginx.scrape-uri=http://{HOST}:{GATEWAY_PORT}/nginx_status",),
    ),
    ExporterSpec(
        "node",
        NODE_EXPORTER_PORT,
        # Only what the Infrastructure dashboard and the disk alerts read. The defaults would
        # also run the systemd collector (no systemd here: the stack is plain processes) and the
        # textfile one (Debian points it at /var/lib/prometheus/node-exporter, nobody writes it).
        (
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.meminfo",
            "--collector.filesystem",
            "--collector.netdev",
            # Debian's package leaves out lo by default; the local stack talks over nothing else.
            "--collector.netdev.device-exclude=^$",
            "--collector.loadavg",
            "--collector.diskstats",
        ),
    ),
)


def start_exporters(infra: dict[str, Component]) -> None:
    for spec in EXPORTERS:
        binary = which(spec.binary)
        if binary is None:
            raise StackError(f"{spec.name}: {spec.binary} not installed")
        env = {**os.environ, **dict(spec.env)}
        argv = [binary, spec.listen_flag(), *spec.args]
        restart_if_flags_changed(infra[spec.name], argv)
        start_simple(infra[spec.name], argv, APP_TIMEOUT, env)


# ---------------------------------------------------------------------------------------------
# Prometheus
# ---------------------------------------------------------------------------------------------


PROM_DIR = RUN / "prometheus"
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
# The dashboards as console pages (generated from deploy/dashboards/panels.py) and the library
# they use; read from the repository on every request, so a regenerated page shows at once.
CONSOLES_DIR = ROOT / "deploy" / "prometheus" / "consoles"
CONSOLE_LIBRARIES_DIR = ROOT / "deploy" / "prometheus" / "console_libraries"
# Series label node-exporter's filesystem metrics get when they describe the filesystem holding
# .run/ (Kafka's log, Postgres' data): the Infrastructure dashboard's disk panel selects it.
RUN_DIR_LABEL = "holds_run_dir"


def mount_point(path: Path) -> str:
    """Mount point of the filesystem holding path, as node-exporter reports it.

    The longest mount point in /proc/self/mountinfo that contains path (os.path.ismount does
    not see bind mounts of the same device).
    """
    target = os.path.realpath(path)
    best = "/"
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return best
    for line in lines:
        fields = line.split()
        if len(fields) < 5:
            continue
        # Field 5 is the mount point, with space, tab, newline and backslash as octal escapes.
        mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > len(best):
            best = mount
    return best


def scrape_extras(job: str) -> list[str]:
    """Extra lines for a job's scrape config."""
    if job != "node":
        return []
    # Labels the series at scrape time; what to match is only known on this machine.
    regex = f"node_filesystem_[a-z_]+;{re.escape(mount_point(RUN))}"
    return [
        "    metric_relabel_configs:",
        "      - source_labels: [__name__, mountpoint]",
        f"        regex: {json.dumps(regex)}",
        f"        target_label: {RUN_DIR_LABEL}",
        '        replacement: "true"',
    ]


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
            *scrape_extras(job),
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
    argv = [
        prometheus,
        f"--config.file={conf}",
        f"--storage.tsdb.path={PROM_DIR / 'data'}",
        f"--web.listen-address={HOST}:{PROMETHEUS_PORT}",
        "--storage.tsdb.retention.time=2d",
        "--web.enable-lifecycle",
        f"--web.console.templates={CONSOLES_DIR}",
        f"--web.console.libraries={CONSOLE_LIBRARIES_DIR}",
    ]
    restart_if_flags_changed(comp, argv)
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
    start_simple(comp, argv, PROMETHEUS_TIMEOUT)


def dashboard_urls() -> list[str]:
    """The console pages Prometheus serves, index first."""
    pages = sorted(CONSOLES_DIR.glob("*.html"), key=lambda p: (p.name != "index.html", p.name))
    return [f"http://{HOST}:{PROMETHEUS_PORT}/consoles/{p.name}" for p in pages]


def print_dashboards() -> None:
    urls = dashboard_urls()
    if urls:
        say("dashboards (Prometheus console pages):")
        for url in urls:
            say(f"  {url}")
