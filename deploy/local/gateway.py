"""Step 10: the nginx gateway, rendered from deploy/gateway/nginx.conf.template (the one template
of every gateway, deploy/gateway/render.py) with the limits from the environment
(GELOMBANG_GATEWAY_*)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from deploy.gateway.render import GatewayConfigError, Target, limits_from_env, render
from deploy.local.apps import api_instances
from deploy.local.layout import (
    API_BASE_PORT,
    GATEWAY_PORT,
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


def local_target(env: dict[str, str]) -> Target:
    """The gateway of `make up`: the edge on 127.0.0.1, one upstream per API process."""
    try:
        limits = limits_from_env(env)
    except GatewayConfigError as exc:
        raise StackError(str(exc)) from exc
    return Target(
        name="local",
        listen=f"{HOST}:{GATEWAY_PORT}",
        registration=tuple(f"{HOST}:{API_BASE_PORT + i}" for i in range(api_instances(env))),
        selection=f"{HOST}:8020",
        assisted=f"{HOST}:8010",
        web_root=str(WEB_ROOT),
        pid_file=str(NGINX_DIR / "nginx.pid"),
        error_log=str(LOGS / "nginx.log"),
        access_log=str(LOGS / "nginx-access.log"),
        temp_dir=str(NGINX_DIR / "temp"),
        limits=limits,
    )


def write_nginx_config(env: dict[str, str]) -> tuple[Path, bool]:
    """Render .run/nginx/nginx.conf; returns (path, changed)."""
    (NGINX_DIR / "temp").mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    if not (WEB_ROOT / "index.html").exists():
        WEB_ROOT.mkdir(parents=True, exist_ok=True)
        (WEB_ROOT / "index.html").write_text(PLACEHOLDER_PAGE)
    try:
        text = render(local_target(env))
    except GatewayConfigError as exc:
        raise StackError(str(exc)) from exc
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
