"""Step 7: Kafka (KRaft; one node, or three with KAFKA_BROKERS=3): the stack's size, storage
format, start, topics, and the metadata check that tells a broker is really serving.

The layout itself (ports, directories, server.properties, Java command lines) is pure and lives
in kafka_cluster.py, shared with the three-broker integration test. The metadata request is made
by confluent-kafka in the venv (kafka_probe.py); this module reads its answer."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
import uuid

from deploy.local import kafka_cluster
from deploy.local.installs import parse_env_file
from deploy.local.kafka_cluster import Credential, KafkaNode
from deploy.local.layout import (
    HERE,
    HOST,
    KAFKA_ADMIN,
    KAFKA_FAULTS_PORT,
    KAFKA_FAULTS_PROXY_PORT,
    KAFKA_LIBS,
    KAFKA_PORT,
    KAFKA_TIMEOUT,
    LOGS,
    ROOT,
    RUN,
    STACK_ENV,
    VENV_PY,
    StackError,
    say,
    which,
)
from deploy.local.processes import Component, Health, fail_with_log, run_checked, spawn, wait_ready

KAFKA_DIR = RUN / "kafka"
KAFKA_DATA = KAFKA_DIR / "data"
KAFKA_LOG4J = HERE / "kafka-log4j2.properties"
# Written when node 1's storage is formatted with the admin's SCRAM credential in it. Storage
# without it predates SASL here: Kafka adds SCRAM credentials only at format time or through an
# authenticated client, so such a cluster has no way in (see start_kafka).
SASL_MARKER = KAFKA_DIR / "sasl"


def kafka_nodes(env: dict[str, str]) -> list[KafkaNode]:
    """The stack's Kafka nodes, as many as .run/stack.env says (GELOMBANG_KAFKA_BROKERS)."""
    raw = env.get("GELOMBANG_KAFKA_BROKERS", "1")
    if raw not in {str(n) for n in kafka_cluster.SUPPORTED_SIZES}:
        raise StackError(f"GELOMBANG_KAFKA_BROKERS in {STACK_ENV} must be 1 or 3, got {raw!r}")
    return kafka_cluster.layout(
        int(raw), RUN, HOST, KAFKA_PORT, (KAFKA_FAULTS_PORT, KAFKA_FAULTS_PROXY_PORT)
    )


def kafka_admin(env: dict[str, str]) -> Credential | None:
    """The stack's Kafka super user (the stack's own tooling, the tests, the brokers between
    themselves), once the stack runs Kafka with SASL; None for a broker started before."""
    name = env.get("GELOMBANG_KAFKA_USERNAME", "")
    password = env.get("GELOMBANG_KAFKA_PASSWORD", "")
    return Credential(name, password) if name and password else None


def kafka_component(node: KafkaNode, env: dict[str, str]) -> Component:
    return Component(
        node.name,
        str(node.props),
        node.ports,
        lambda: kafka_metadata(node.client_port, kafka_admin(env)),
        node.address,
    )


# The probe's interpreter and client start in about 0.2 s; the slack covers a box that is busy
# starting everything else at the same time.
PROBE_SLACK_S = 10.0
CREDENTIAL_VARIABLES = ("GELOMBANG_KAFKA_USERNAME", "GELOMBANG_KAFKA_PASSWORD")


def kafka_metadata(
    port: int = KAFKA_PORT, admin: Credential | None = None, timeout: float = 3.0
) -> Health:
    """Ask the broker for cluster metadata through confluent-kafka, logged in as ``admin`` with
    SCRAM (None: a broker from before SASL, plaintext): ``python -m deploy.local.kafka_probe``
    in the venv, since this module runs on the system python3.

    An open TCP port is not enough: the broker accepts connections before it has joined the
    KRaft quorum and can answer clients, so it counts as ready once its answer names a
    controller. A closed port is enough to fail, though, and says so at once: the client would
    retry it until its timeout, and it is polled while Kafka starts.
    """
    try:
        socket.create_connection((HOST, port), timeout=timeout).close()
    except OSError as exc:
        return False, f"metadata: {exc.__class__.__name__}"
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    if admin is not None:
        env |= {"GELOMBANG_KAFKA_USERNAME": admin.name, "GELOMBANG_KAFKA_PASSWORD": admin.password}
    argv = [str(VENV_PY), "-m", "deploy.local.kafka_probe", "--host", HOST, "--port", str(port),
            "--timeout", str(timeout)]  # fmt: skip
    limit = timeout + PROBE_SLACK_S
    try:
        res = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=limit, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return False, f"metadata: no answer from the probe in {limit:.0f}s"
    except OSError as exc:
        return False, f"metadata: {VENV_PY}: {exc.__class__.__name__}"
    return probe_health(res.stdout.decode(errors="replace"))


def probe_health(output: str) -> Health:
    """The probe's line of JSON (its last line) as the status table shows it; that last line
    itself when it is no answer (the probe crashed, or the venv lacks confluent-kafka)."""
    lines = output.strip().splitlines()
    last = lines[-1] if lines else "no output"
    try:
        report = json.loads(last)
    except ValueError:
        report = None
    if not isinstance(report, dict):
        return False, f"metadata: the probe failed: {last}"
    if "error" in report:
        return False, f"metadata: {report['error']}"
    brokers, cluster = report.get("brokers"), report.get("cluster")
    return report.get("ok") is True, f"metadata: {brokers} broker(s), cluster {cluster}"


def java_binary() -> str:
    java = which("java")
    if java is None:
        raise StackError("kafka: java not installed")
    return java


def configure_kafka_size() -> None:
    """Apply KAFKA_BROKERS (GELOMBANG_KAFKA_BROKERS) from the command line to .run/stack.env.

    The size is fixed once Kafka's storage is formatted: a KRaft quorum of one cannot grow into
    three in place, and the topics' replication is chosen at creation. Switching an existing
    stack asks for `make clean` in plain words instead of failing later in Kafka's log.
    """
    wanted = os.environ.get("GELOMBANG_KAFKA_BROKERS", "").strip()
    if not wanted:
        return
    if wanted not in {str(n) for n in kafka_cluster.SUPPORTED_SIZES}:
        raise StackError(f"KAFKA_BROKERS must be 1 or 3, got {wanted!r}")
    stored = parse_env_file(STACK_ENV)
    current = stored.get("GELOMBANG_KAFKA_BROKERS", "1")
    if wanted == current:
        return
    if (KAFKA_DATA / "meta.properties").exists():
        raise StackError(
            f"this stack's Kafka was created with {current} broker(s); KAFKA_BROKERS={wanted}"
            " needs a new one. `make clean` (stops everything and deletes .run/: Kafka, Postgres"
            f" and Redis data) then `make up KAFKA_BROKERS={wanted}`; or leave KAFKA_BROKERS out"
            f" to keep {current}."
        )
    nodes = kafka_cluster.layout(int(wanted), RUN, HOST, KAFKA_PORT)
    values = {
        "GELOMBANG_KAFKA_BROKERS": wanted,
        "GELOMBANG_KAFKA_BOOTSTRAP": kafka_cluster.bootstrap(nodes),
        "GELOMBANG_KAFKA_REPLICATION_FACTOR": str(kafka_cluster.replication_factor(nodes)),
        "GELOMBANG_KAFKA_MIN_INSYNC_REPLICAS": str(kafka_cluster.min_insync_replicas(nodes)),
    }
    # Rewrites only these lines; the keys and every other line stay as they were.
    lines = STACK_ENV.read_text().splitlines()
    kept = [line for line in lines if line.split("=", 1)[0].strip() not in values]
    STACK_ENV.write_text("\n".join([*kept, *(f"{k}={v}" for k, v in values.items())]) + "\n")
    bootstrap = values["GELOMBANG_KAFKA_BOOTSTRAP"]
    say(f"  stack.env: Kafka with {wanted} broker(s), bootstrap {bootstrap}")


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


def run_admin_module(module: str, env: dict[str, str], timeout: float) -> str:
    """``python -m <module> ensure`` in the venv as the admin; its output goes to kafka.log."""
    argv = [str(VENV_PY), "-m", module, "ensure"]
    out = run_checked(argv, f"python -m {module} ensure", env=env, timeout=max(timeout, 30))
    with (LOGS / "kafka.log").open("a") as fh:
        fh.write(f"=== {module} ensure\n{out}\n")
    return out


def ensure_topics(env: dict[str, str], timeout: float) -> None:
    """The application topics with their reviewed settings (python -m gelombang.topics)."""
    run_admin_module("gelombang.topics", env, timeout)
    say("  kafka: topics ensured")


def ensure_access(env: dict[str, str], timeout: float) -> None:
    """Every service's SCRAM credential and exactly its ACLs (python -m gelombang.kafka_access)."""
    out = run_admin_module("gelombang.kafka_access", env, timeout)
    say(out.rstrip().splitlines()[-1] if out.strip() else "  kafka access: ensured")


def turn_on_sasl(env: dict[str, str]) -> Credential:
    """From this start on, every client of the stack logs in: the admin principal goes into
    .run/stack.env (the tests and ad-hoc commands read it) and into ``env`` (the services started
    after Kafka). Written only as brokers start with SASL, so a broker still running from before
    keeps its plaintext clients until it is restarted."""
    password = env.get("GELOMBANG_KAFKA_PASSWORD", "")
    if not password:
        raise StackError(f"kafka: no GELOMBANG_KAFKA_PASSWORD in {STACK_ENV}")
    values = {
        "GELOMBANG_KAFKA_USERNAME": KAFKA_ADMIN,
        "GELOMBANG_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    }
    stored = parse_env_file(STACK_ENV)
    added = [f"{k}={v}" for k, v in values.items() if k not in stored]
    if added:
        with STACK_ENV.open("a") as fh:
            fh.write("\n".join(added) + "\n")
    env.update(values)
    return Credential(KAFKA_ADMIN, password)


def start_kafka(infra: dict[str, Component], env: dict[str, str]) -> None:
    """Start every node that is not running (after a fault test, only the one that was killed),
    wait until each answers metadata, then make sure the topics, the services' principals and
    their ACLs exist."""
    nodes = kafka_nodes(env)
    missing = [(node, infra[node.name]) for node in nodes if infra[node.name].running_pid() is None]
    admin = kafka_admin(env)
    if not missing:
        say(f"  kafka: already running ({len(nodes)} broker(s))")
        ensure_topics(env, KAFKA_TIMEOUT)
        if admin is None:
            say("  kafka: running without authentication (started before SASL/SCRAM);"
                " `make down && make up` restarts it with SASL and per-service ACLs")  # fmt: skip
        else:
            ensure_access(env, KAFKA_TIMEOUT)
        return
    if (KAFKA_DATA / "meta.properties").exists() and not SASL_MARKER.exists():
        raise StackError(
            "this stack's Kafka storage was formatted before the brokers took SASL/SCRAM, and"
            " Kafka stores the first credential only when it formats storage. `make clean`"
            " (stops everything and deletes .run/: Kafka, Postgres and Redis data) then `make up`."
        )
    if admin is None:
        admin = turn_on_sasl(env)
    if not any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        raise StackError(f"kafka: no jars in {KAFKA_LIBS}")
    for node in nodes:
        node.data.mkdir(parents=True, exist_ok=True)
        node.props.write_text(kafka_cluster.server_properties(node, nodes, admin))
        node.props.chmod(0o600)  # it holds the admin's password (the brokers log in with it)
    java = java_binary()
    t0 = time.monotonic()
    # One broker gets the heap it always had; three share what a dev box can spare.
    heap_mb = 1024 if len(nodes) == 1 else 512
    started: list[tuple[Component, subprocess.Popen[bytes]]] = []
    for node, comp in missing:
        comp.ensure_ports_free()
        if not (node.data / "meta.properties").exists():
            say(f"  {comp.name}: formatting storage (first run)")
            run_checked(
                kafka_cluster.format_argv(
                    java, KAFKA_LIBS, KAFKA_LOG4J, comp.log, node, kafka_cluster_id(), [admin]
                ),
                f"{comp.name} storage format",
                timeout=120,
            )
            if node.node_id == 1:
                SASL_MARKER.write_text(f"{admin.name}\n")
        argv = kafka_cluster.broker_argv(java, KAFKA_LIBS, KAFKA_LOG4J, comp.log, node, heap_mb)
        started.append((comp, spawn(comp, argv)))
    # All spawned before any wait: a quorum of three elects a leader only once two are up.
    for comp, proc in started:
        wait_ready(comp, KAFKA_TIMEOUT, proc)
    remaining = KAFKA_TIMEOUT - (time.monotonic() - t0)
    try:
        ensure_topics(env, remaining)
        ensure_access(env, remaining)
    except StackError as exc:
        raise fail_with_log(str(exc), started[0][0].log) from exc
    pids = ", ".join(f"{comp.name} pid {proc.pid}" for comp, proc in started)
    say(f"  kafka: started ({pids}) in {time.monotonic() - t0:.1f}s")
