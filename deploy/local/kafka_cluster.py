"""The local Kafka cluster's layout: one KRaft node (broker + controller) or three.

Pure description, no processes: which ports and directories each node has, its
``server.properties``, the bootstrap list and the Java command lines. ``stack.py`` starts and
stops the nodes; the three-broker integration test lays out a private cluster of its own with
the same functions (other ports, a temporary directory), so both run what is written here.

Node 1 keeps the paths and ports a one-broker stack always had (``.run/kafka/``, 9092), so a
laptop's stack is unchanged. Nodes 2 and 3 sit beside it (``.run/kafka-2/``, 9192;
``.run/kafka-3/``, 9292). With three nodes every application topic has three replicas and
``min.insync.replicas=2`` (``gelombang.topics``), unclean leader election stays off: a write
acknowledged with acks=all is on two brokers, and a broker that missed writes never becomes
leader.

Every client listener (``CLIENT``, and ``FAULTS`` for ``make chaos``'s proxy) takes SASL/SCRAM
only (SCRAM-SHA-512, no TLS: loopback), and the StandardAuthorizer refuses whatever no ACL allows
(``allow.everyone.if.no.acl.found=false``). The brokers talk to each other as the admin principal
over ``CLIENT``. The ``CONTROLLER`` listener stays plaintext on loopback: KRaft's controllers and
the brokers' registrations use it, and their principal there is ``ANONYMOUS``, which therefore
has to be a super user (Kafka's documented requirement for a plaintext controller listener). No
client is ever given that listener; a SASL listener never yields ``ANONYMOUS``. The per-service
principals and their ACLs are in ``gelombang.kafka_access``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SUPPORTED_SIZES = (1, 3)
SASL_MECHANISM = "SCRAM-SHA-512"
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
# Port offset between nodes: node n listens on base + 100 * (n - 1) (+1 controller, +2 faults).
NODE_PORT_STEP = 100


@dataclass(frozen=True)
class KafkaNode:
    node_id: int
    host: str
    client_port: int
    controller_port: int
    directory: Path  # server.properties and data/ live here
    # The fault-test listener (one-broker stacks only): the port it binds and the port of the
    # fault-injecting proxy it advertises, so clients bootstrapped there stay behind the proxy.
    faults: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        """Component, pidfile and log name: ``kafka`` for node 1, ``kafka-<n>`` after it."""
        return "kafka" if self.node_id == 1 else f"kafka-{self.node_id}"

    @property
    def props(self) -> Path:
        return self.directory / "server.properties"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def ports(self) -> tuple[int, ...]:
        extra = (self.faults[0],) if self.faults else ()
        return (self.client_port, self.controller_port, *extra)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.client_port}"


def layout(
    size: int,
    run_dir: Path,
    host: str = "127.0.0.1",
    base_port: int = 9092,
    faults: tuple[int, int] | None = None,
) -> list[KafkaNode]:
    """The nodes of a cluster of ``size`` under ``run_dir`` (``kafka/``, ``kafka-2/``, ...)."""
    if size not in SUPPORTED_SIZES:
        raise ValueError(f"a local Kafka cluster has 1 or 3 brokers, not {size}")
    nodes = []
    for node_id in range(1, size + 1):
        port = base_port + NODE_PORT_STEP * (node_id - 1)
        directory = run_dir / ("kafka" if node_id == 1 else f"kafka-{node_id}")
        nodes.append(
            KafkaNode(
                node_id,
                host,
                port,
                port + 1,
                directory,
                # The fault proxy fronts one broker; with three, clients would be told of the
                # others' fault listeners too and bypass it, so only a single node has one.
                faults if size == 1 else None,
            )
        )
    return nodes


def bootstrap(nodes: list[KafkaNode]) -> str:
    return ",".join(node.address for node in nodes)


def replication_factor(nodes: list[KafkaNode]) -> int:
    return len(nodes)


def min_insync_replicas(nodes: list[KafkaNode]) -> int:
    # A majority: with three, an acknowledged write survives the loss of any one broker and
    # intake keeps going with one down; with one there is nothing to wait for. Written only
    # here: the application topics get it as GELOMBANG_KAFKA_MIN_INSYNC_REPLICAS (kafka_broker).
    return len(nodes) // 2 + 1


@dataclass(frozen=True)
class Credential:
    """A SCRAM principal's name and password (``repr`` leaves the password out)."""

    name: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        # Both end up inside a JAAS string and a storage-tool argument without quoting.
        for value in (self.name, self.password):
            if not value or not all(c.isalnum() or c in "-_." for c in value):
                raise ValueError("SCRAM names and passwords here are [A-Za-z0-9._-]+")


def server_properties(node: KafkaNode, nodes: list[KafkaNode], admin: Credential) -> str:
    """``admin`` is the brokers' own principal (inter-broker traffic) and the stack's super user."""
    voters = ",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in nodes)
    listeners = [
        f"CLIENT://{node.host}:{node.client_port}",
        f"CONTROLLER://{node.host}:{node.controller_port}",
    ]
    advertised = [f"CLIENT://{node.host}:{node.client_port}"]
    protocols = ["CLIENT:SASL_PLAINTEXT", "CONTROLLER:PLAINTEXT"]
    mechanism = SASL_MECHANISM.lower()
    # The CLIENT entry's credentials are what a broker presents to the others; a listener
    # that only accepts connections needs the login module and nothing else.
    jaas = [
        f"listener.name.client.{mechanism}.sasl.jaas.config={SCRAM_LOGIN} required"
        f' username="{admin.name}" password="{admin.password}";'
    ]
    if node.faults:
        listeners.append(f"FAULTS://{node.host}:{node.faults[0]}")
        advertised.append(f"FAULTS://{node.host}:{node.faults[1]}")
        protocols.append("FAULTS:SASL_PLAINTEXT")
        jaas.append(f"listener.name.faults.{mechanism}.sasl.jaas.config={SCRAM_LOGIN} required;")
    replicas = len(nodes)
    isr = min_insync_replicas(nodes)
    return "".join(
        line + "\n"
        for line in (
            "# Written by deploy/local/stack.py on every up (deploy/local/kafka_cluster.py).",
            f"# Node {node.node_id} of {len(nodes)}: broker and KRaft controller in one process.",
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            f"controller.quorum.voters={voters}",
            f"listeners={','.join(listeners)}",
            f"advertised.listeners={','.join(advertised)}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=CLIENT",
            f"listener.security.protocol.map={','.join(protocols)}",
            f"sasl.enabled.mechanisms={SASL_MECHANISM}",
            f"sasl.mechanism.inter.broker.protocol={SASL_MECHANISM}",
            *jaas,
            "# Nothing is allowed that no ACL allows (gelombang.kafka_access writes them).",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            "# ANONYMOUS: controllers and brokers on the plaintext loopback CONTROLLER listener.",
            f"super.users=User:{admin.name};User:ANONYMOUS",
            f"log.dirs={node.data}",
            "# 12 partitions: room for up to 12 consumers per group without re-partitioning.",
            "num.partitions=12",
            "# Internal topics replicated like the application's (gelombang.topics sets those).",
            f"default.replication.factor={replicas}",
            f"offsets.topic.replication.factor={replicas}",
            f"transaction.state.log.replication.factor={replicas}",
            f"transaction.state.log.min.isr={isr}",
            f"share.coordinator.state.topic.replication.factor={replicas}",
            f"share.coordinator.state.topic.min.isr={isr}",
            "# A replica that missed acknowledged writes never becomes leader (the default, said).",
            "unclean.leader.election.enable=false",
            *(
                (
                    "# A killed broker is fenced (dropped from every ISR, its partitions given",
                    "# new leaders) after 4 s without a heartbeat instead of 9: the time writes",
                    "# to its partitions wait. Long enough for a GC pause on a loaded box.",
                    "broker.heartbeat.interval.ms=1000",
                    "broker.session.timeout.ms=4000",
                )
                if len(nodes) > 1
                else ()
            ),
            "# Consumers in tests join one by one; do not wait 3 s for more before assigning.",
            "group.initial.rebalance.delay.ms=0",
            "# Topics are created explicitly (gelombang.topics) with reviewed settings, never by a",
            "# typo in a producer.",
            "auto.create.topics.enable=false",
        )
    )


def java_argv(java: str, libs: Path, log4j_config: Path, log_file: Path, main: str,
              *args: str) -> list[str]:  # fmt: skip
    return [
        java,
        f"-Dlog4j2.configurationFile={log4j_config}",
        f"-Dgelombang.kafka.log={log_file}",
        "-cp",
        f"{libs}/*",
        main,
        *args,
    ]


def broker_argv(java: str, libs: Path, log4j_config: Path, log_file: Path, node: KafkaNode,
                heap_mb: int) -> list[str]:  # fmt: skip
    argv = java_argv(java, libs, log4j_config, log_file, "kafka.Kafka", str(node.props))
    argv[1:1] = [f"-Xms{heap_mb // 2}m", f"-Xmx{heap_mb}m", "-XX:+UseG1GC",
                 "-Djava.awt.headless=true"]  # fmt: skip
    return argv


def format_argv(java: str, libs: Path, log4j_config: Path, log_file: Path, node: KafkaNode,
                cluster_id: str, users: list[Credential]) -> list[str]:  # fmt: skip
    """Format the node's storage with ``users``' SCRAM credentials already in its metadata, so
    the brokers can authenticate to each other from their first start."""
    scram = [arg for user in users for arg in ("--add-scram", scram_entry(user))]
    return java_argv(java, libs, log4j_config, log_file, "kafka.tools.StorageTool", "format",
                     "-t", cluster_id, "-c", str(node.props), *scram)  # fmt: skip


def scram_entry(user: Credential) -> str:
    return f"{SASL_MECHANISM}=[name={user.name},password={user.password}]"

