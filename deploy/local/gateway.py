"""Step 10: the nginx gateway, rendered from deploy/local/nginx.conf.template with the rate limits
from the environment (GELOMBANG_GATEWAY_*)."""

from __future__ import annotations

import ipaddress
import os
import re
import signal
from pathlib import Path

from deploy.local.apps import api_instances
from deploy.local.layout import (
    API_BASE_PORT,
    GATEWAY_PORT,
    HERE,
    HOST,
    LOGS,
    NGINX_TIMEOUT,
    ROOT,
    RUN,
    StackError,
    say,
    which,
)
from deploy.local.processes import Component, run_checked, start_simple

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
        "PAGE_RATE": _nginx_rate(env, "GELOMBANG_GATEWAY_PAGE_RATE", "200r/s"),
        "PAGE_BURST": _positive(env, "GELOMBANG_GATEWAY_PAGE_BURST", "400"),
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
