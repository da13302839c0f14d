"""Steps 8-9: the Gelombang processes (the app table), their migrations, and starting them
(the supervision, supervision.py, starts them again through ``launch`` when they die)."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from deploy.local.layout import (
    API_BASE_PORT,
    APP_TIMEOUT,
    HOST,
    LOGS,
    MAIL_DIR,
    ROOT,
    SMS_DIR,
    SMTP_PORT,
    VENV_PY,
    StackError,
    say,
)
from deploy.local.processes import (
    Component,
    Health,
    check_http,
    port_open,
    run_checked,
    spawn,
    wait_ready,
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
    # Its Kafka principal (layout.KAFKA_PRINCIPALS); None: it has no business with Kafka.
    kafka: str | None = None

    def argv(self) -> list[str]:
        return [str(VENV_PY), "-m", self.module, *(a.format(port=self.port) for a in self.args)]

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` with this process's own Kafka principal in place of the stack's admin (once
        the stack runs Kafka with SASL: GELOMBANG_KAFKA_USERNAME set). Without a principal it
        gets none at all, so a Kafka client it should not have is refused by the broker."""
        if not env.get("GELOMBANG_KAFKA_USERNAME"):
            return env
        if self.kafka is None:
            return {**env, "GELOMBANG_KAFKA_USERNAME": "", "GELOMBANG_KAFKA_PASSWORD": ""}
        password = env.get(f"GELOMBANG_KAFKA_PASSWORD_{self.kafka.upper()}", "")
        return {**env, "GELOMBANG_KAFKA_USERNAME": self.kafka, "GELOMBANG_KAFKA_PASSWORD": password}

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
        AppSpec(
            f"registration-{i}",
            "services.registration.app",
            API_BASE_PORT + i,
            "registration",
            kafka="registration",
        )
        for i in range(api_instances(env))
    ]
    apps += [
        # The decider: it yields the cores to intake in a spike (its own CPU group, just above the
        # rest of the background) and catches up after; the sign-up itself may not wait.
        AppSpec(
            "projector",
            "services.registration.worker",
            9101,
            "projector",
            nice=5,
            kafka="projector",
        ),
        # The posko officers' lane.
        AppSpec("assisted", "services.assisted.app", 8010, "assisted", kafka="assisted"),
        # Waves: the admin API and the worker keeping the eligible pool and relaying decisions.
        AppSpec("selection", "services.selection.app", 8020, "selection"),
        AppSpec(
            "selection-worker",
            "services.selection.worker",
            9125,
            "selection",
            nice=10,
            kafka="selection",
        ),
        # Simulators stand in for outside systems, which would not share our cores at all.
        AppSpec(
            "civil-registry-sim", "testkit.simulators.civil_registry", 8091, "simulators", nice=10
        ),
        AppSpec(
            "sms-gateway-sim",
            "testkit.simulators.sms_gateway",
            8092,
            "simulators",
            args=("--port", "{port}", "--outbox", str(SMS_DIR / "outbox.jsonl")),
            run_dirs=(SMS_DIR,),
            nice=10,
        ),
        # <port> is the ops port (probes, metrics); its /readyz also checks SMTP on 1025 answers.
        AppSpec(
            "mail-sink",
            "testkit.simulators.mail_sink",
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
            f"verification-{i}",
            "services.verification.worker",
            9111 + i,
            "verification",
            nice=10,
            kafka="verification",
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


# ---------------------------------------------------------------------------------------------
# Migrations and starting the services
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


def launch(
    app: AppSpec, env: dict[str, str], note: str = "stack.py starting"
) -> subprocess.Popen[bytes]:
    """Start one app the one way `up` and the supervision both use: its folders, its argv, its
    CPU priority (nice, background cgroup), its log and pidfile (spawn)."""
    for folder in app.run_dirs:
        folder.mkdir(parents=True, exist_ok=True)
    return spawn(app.component(), app.argv(), app.environment(env), app.nice, note)


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
        pending.append((comp, launch(app, env), time.monotonic()))
    # Launch all, then wait: start-up is mostly imports and connecting to Kafka/Postgres, so
    # waiting after launching everything costs roughly the slowest start, not the sum.
    for comp, proc, t0 in pending:
        wait_ready(comp, max(1.0, APP_TIMEOUT - (time.monotonic() - t0)), proc)
        say(f"  {comp.name}: started (pid {proc.pid}) in {time.monotonic() - t0:.1f}s")
