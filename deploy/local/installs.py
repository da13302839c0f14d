"""Steps 1-4 of ``up``: system packages, the project's virtualenv, the Kafka jars, and the dev
secrets in .run/stack.env (plus the environment every Gelombang process gets from it)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from deploy.local.layout import (
    ENV_DEFAULTS,
    KAFKA_LIBS,
    ROOT,
    RUN,
    SECRET_KEYS,
    STACK_ENV,
    VENV_PY,
    StackError,
    say,
    which,
)
from deploy.local.postgres import pg_bin_dir
from deploy.local.processes import run_checked


def ensure_system_packages() -> None:
    wanted: list[tuple[str, bool]] = [
        ("postgresql", pg_bin_dir() is not None),
        ("redis-server", which("redis-server") is not None),
        ("nginx", which("nginx") is not None),
        ("prometheus", which("prometheus") is not None and which("promtool") is not None),
        ("prometheus-postgres-exporter", which("prometheus-postgres-exporter") is not None),
        ("prometheus-redis-exporter", which("prometheus-redis-exporter") is not None),
        ("prometheus-nginx-exporter", which("prometheus-nginx-exporter") is not None),
        ("prometheus-node-exporter", which("prometheus-node-exporter") is not None),
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
