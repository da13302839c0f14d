"""Step 5: PostgreSQL, run as user postgres (the server refuses to run as root): cluster init,
tuning, start, role and database, health check and stop."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import time
from pathlib import Path

from deploy.local.layout import (
    HOST,
    LOGS,
    PG_DB,
    PG_PASSWORD,
    PG_PORT,
    PG_ROLE,
    PG_TIMEOUT,
    RUN,
    STOP_GRACE,
    StackError,
    say,
)
from deploy.local.processes import (
    Component,
    Health,
    fail_with_log,
    pidfile,
    proc_matches,
    read_pid,
    run_checked,
    signal_and_wait,
    wait_ready,
    write_pid,
)

PG_DIR = RUN / "postgres"
PG_DATA = PG_DIR / "data"
PG_SOCKET_DIR = PG_DIR / "run"

PG_TUNING = """\
# Written by deploy/local/stack.py on every `up`; included from postgresql.conf.
# Light tuning for a shared 2-core dev box. Durability stays on: a 202 from the API promises the
# registration is not lost, and the read model and pool in Postgres are the source of truth.
max_connections = 200
fsync = on
synchronous_commit = on
full_page_writes = on
# Room for the selection pool and its indexes (0.5 GB at 1.5 M people) with the read model: with
# 256MB, marking a draw's winners evicted dirty pages of the pool itself, each eviction first
# flushing WAL (36,000 buffers written by the statement against 200 with 2GB). 2 GB of a 24 GiB
# machine that also runs Kafka, Redis and the services.
shared_buffers = 2GB
# WAL written by the background writer while a bulk statement runs rather than by the statement
# itself each time 8 MB (the default at 256MB of shared_buffers) fill up.
wal_buffers = 64MB
# Fewer checkpoints, so fewer pages logged in full on their first change after each (sign-ups
# and a draw alike); crash recovery replays at most this much WAL.
checkpoint_timeout = 30min
max_wal_size = 8GB
# replica (the default), said here because wal_level = minimal would let a close's writes skip WAL:
# a standby or point-in-time recovery must stay possible.
wal_level = replica
password_encryption = 'scram-sha-256'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
# A slow statement is logged without its parameters: marking a draw's winners passes 164,000
# registration ids (6 MB of log text per draw, written while the draw waits), and the pool's
# inserts pass NIK hashes, which belong in no log.
log_parameter_max_length = 0
"""


def pg_bin_dir() -> Path | None:
    """Newest installed PostgreSQL server (Debian puts each major under its own directory)."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    if not found:
        return None
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


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
