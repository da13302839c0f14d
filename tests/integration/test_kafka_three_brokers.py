"""One broker of three killed under a steady stream of sign-up publishes, then two of three.

The stack's own Kafka may have one broker (the laptop default), so this test lays out a private
three-node cluster with the stack's own layout (deploy/local/kafka_cluster.py: the same
server.properties, other ports, a temporary directory), starts and kills only the processes it
started, and publishes through the API's publisher (gelombang.rdkafka: acks=all, idempotence,
the breaker) to a topic made as gelombang.topics makes them (three replicas,
min.insync.replicas=2).

What a person would notice, and what is asserted: no acknowledged sign-up is missing from the log
(a record in it twice is counted and printed, see assert_nothing_lost); with one broker down
writes go on; with two down every write is refused (the API turns that into 503 +
Retry-After), never acknowledged on a single copy; intake comes back by itself when a broker
returns. How many writes were refused and for how long is printed (timing
is measured by `make chaos`, not asserted here).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from deploy.local import kafka_cluster
from deploy.local.kafka_cluster import Credential, KafkaNode
from gelombang.kafka import EVENT_TYPE_HEADER, PublishFailed, aiokafka_auth
from gelombang.rdkafka import RdKafkaPublisher, librdkafka_auth
from gelombang.settings import REPO_ROOT, KafkaAuth
from gelombang.topics import topic_configs

pytestmark = pytest.mark.integration

LIBS = REPO_ROOT / "deploy" / "kafka" / "target" / "dependency"
LOG4J = REPO_ROOT / "deploy" / "local" / "kafka-log4j2.properties"
# Far from every port of the stack (9092-9094, 9192-9293 with KAFKA_BROKERS=3, 19094).
BASE_PORT = 29092
PARTITIONS = 6
HEADERS = [(EVENT_TYPE_HEADER, b"test")]
# Generous: three JVMs starting at once on a 2-core machine that runs the whole stack.
START_DEADLINE_S = 180.0
# The cluster authenticates like the stack's (SASL/SCRAM, ACLs on); this test is its super user.
ADMIN = Credential("admin", secrets.token_hex(16))
AUTH = KafkaAuth("SASL_PLAINTEXT", username=ADMIN.name, password=ADMIN.password)


@dataclass
class Cluster:
    nodes: list[KafkaNode]
    logs: Path
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return kafka_cluster.bootstrap(self.nodes)

    def start(self, node: KafkaNode) -> None:
        java = shutil.which("java")
        assert java, "java is missing: `make up` installs it"
        log = self.logs / f"{node.name}.log"
        argv = kafka_cluster.broker_argv(java, LIBS, LOG4J, log, node, heap_mb=384)
        with log.open("ab") as out:
            self.procs[node.node_id] = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def kill(self, node: KafkaNode) -> None:
        proc = self.procs.pop(node.node_id)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def brokers_up(self) -> int:
        try:
            admin = AdminClient({"bootstrap.servers": self.bootstrap, **librdkafka_auth(AUTH)})
            metadata = admin.list_topics(timeout=3)
        except Exception:
            return 0
        return len(metadata.brokers)


def wait_for(what: str, ready: Callable[[], bool], deadline_s: float = START_DEADLINE_S) -> None:
    deadline = time.monotonic() + deadline_s
    while not ready():
        assert time.monotonic() < deadline, f"{what} not within {deadline_s:.0f}s"
        time.sleep(1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("kafka3")
    nodes = kafka_cluster.layout(3, root, base_port=BASE_PORT)
    made = Cluster(nodes, root)
    java = shutil.which("java")
    assert java, "java is missing: `make up` installs it"
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    cluster_id = "A" + cluster_id[1:]  # never a leading "-" (the storage tool reads an option)
    for node in nodes:
        node.data.mkdir(parents=True)
        node.props.write_text(kafka_cluster.server_properties(node, nodes, ADMIN))
        subprocess.run(
            kafka_cluster.format_argv(
                java, LIBS, LOG4J, root / "format.log", node, cluster_id, [ADMIN]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
    try:
        for node in nodes:
            made.start(node)
        wait_for("three brokers", lambda: made.brokers_up() == 3)
        yield made
    finally:
        for proc in made.procs.values():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)


def make_topic(cluster: Cluster) -> str:
    topic = f"it.three.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, **librdkafka_auth(AUTH)})
    configs = topic_configs(kafka_cluster.min_insync_replicas(cluster.nodes))
    futures = admin.create_topics(
        [NewTopic(topic, PARTITIONS, 3, config=configs)], operation_timeout=30
    )
    futures[topic].result(timeout=60)
    return topic


@dataclass
class Stream:
    """Publishes one record per key, as sign-ups would, and remembers what became of each."""

    publisher: RdKafkaPublisher
    topic: str
    acked: list[bytes] = field(default_factory=list)
    refused: list[tuple[float, str]] = field(default_factory=list)  # (when, why)

    async def send(self, count: int, per_s: float = 100.0) -> tuple[int, int]:
        """``count`` publishes at ``per_s``, concurrently; returns (acknowledged, refused)."""
        acked_before, refused_before = len(self.acked), len(self.refused)

        async def one() -> None:
            key = uuid.uuid4().hex.encode()
            try:
                await self.publisher.publish_raw(self.topic, key, b"v:" + key, HEADERS)
            except PublishFailed as exc:
                self.refused.append((time.monotonic(), type(exc).__name__))
            else:
                self.acked.append(key)

        tasks = []
        for _ in range(count):
            tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(1 / per_s)
        await asyncio.gather(*tasks)
        return len(self.acked) - acked_before, len(self.refused) - refused_before


async def keys_in_log(bootstrap: str, topic: str, at_least: int) -> Counter[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **aiokafka_auth(AUTH),
    )
    await consumer.start()
    seen: Counter[bytes] = Counter()
    deadline = time.monotonic() + 90
    idle_rounds = 0
    try:
        # Everything acknowledged, then a few empty reads: records that a refused (timed-out)
        # publish still delivered may follow, and a second copy of anything would show up.
        while time.monotonic() < deadline and (sum(seen.values()) < at_least or idle_rounds < 3):
            batches = await consumer.getmany(timeout_ms=1000)
            got = [record.key for records in batches.values() for record in records]
            idle_rounds = 0 if got else idle_rounds + 1
            seen.update(key for key in got if key is not None)
    finally:
        await consumer.stop()
    return seen


def assert_nothing_lost(stream: Stream, seen: Counter[bytes]) -> None:
    missing = [key for key in stream.acked if seen[key] == 0]
    assert not missing, f"{len(missing)} acknowledged records are not in the log"
    # Not asserted, reported: a record can be in the log twice. Seen once in six runs of the
    # kill on a busy machine (92 of 1,100 records): publishes had timed out on the client, and
    # librdkafka's idempotent producer then bumps its epoch and sends what was in flight again,
    # which the broker cannot tell from new records. A sign-up's record carries its
    # registration id and the decider keeps one verdict per id (tests/unit/test_decisions.py:
    # a replayed or resent attempt keeps its verdict), so a
    # second copy is never a second registration; `make chaos` counts registrations.
    doubled = sum(1 for n in seen.values() if n > 1)
    print(f"records in the log more than once: {doubled} of {len(seen)}")


async def test_one_broker_of_three_killed_and_back_loses_nothing_and_keeps_taking_writes(
    cluster: Cluster,
) -> None:
    topic = await asyncio.to_thread(make_topic, cluster)
    victim = cluster.nodes[1]
    async with RdKafkaPublisher(
        cluster.bootstrap, "it-three", timeout_s=8, open_s=1, auth=AUTH
    ) as pub:
        stream = Stream(pub, topic)
        before = await stream.send(200)
        assert before == (200, 0), "a healthy cluster refused writes"
        await asyncio.to_thread(cluster.kill, victim)
        killed_at = time.monotonic()
        during = await stream.send(600)
        await asyncio.to_thread(cluster.start, victim)
        await asyncio.to_thread(wait_for, "the broker back", lambda: cluster.brokers_up() == 3)
        after = await stream.send(300)
        windows = [round(at - killed_at, 1) for at, _ in stream.refused]
        print(
            f"one of three down: before {before}, during {during}, after {after} "
            f"(acknowledged, refused); refusals at {windows[:5]}..{windows[-5:]} s after the kill"
        )
        # Writes go on with one broker down: two replicas are a majority.
        assert during[0] > 0
        # Once it is back, nothing is refused.
        assert after == (300, 0)
    seen = await keys_in_log(cluster.bootstrap, topic, len(stream.acked))
    assert_nothing_lost(stream, seen)


async def test_two_brokers_of_three_down_refuses_every_write_and_recovers_alone(
    cluster: Cluster,
) -> None:
    topic = await asyncio.to_thread(make_topic, cluster)
    survivors, victims = cluster.nodes[:1], cluster.nodes[1:]
    async with RdKafkaPublisher(
        cluster.bootstrap, "it-three", timeout_s=4, open_s=1, auth=AUTH
    ) as pub:
        stream = Stream(pub, topic)
        assert await stream.send(100) == (100, 0)
        for node in victims:
            await asyncio.to_thread(cluster.kill, node)
        acked_before = len(stream.acked)
        # A write may finish on the replicas in sync just before the kill took effect; after
        # that nothing can reach min.insync.replicas=2, so every later write is refused.
        await stream.send(50, per_s=25)
        down = await stream.send(200, per_s=25)
        print(f"two of three down: {down} (acknowledged, refused), {len(survivors)} broker left")
        assert down == (0, 200), "a write was acknowledged with one copy"
        await asyncio.to_thread(cluster.start, victims[0])
        # Back by itself: no restart of the publisher, the breaker's probe finds the log.
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            acked, _ = await stream.send(20, per_s=20)
            if acked == 20:
                break
            assert time.monotonic() < deadline, "intake did not recover with two brokers"
            await asyncio.sleep(1)
        assert len(stream.acked) > acked_before
    await asyncio.to_thread(cluster.start, victims[1])
    seen = await keys_in_log(cluster.bootstrap, topic, len(stream.acked))
    assert_nothing_lost(stream, seen)
    # The refused writes were answered, each with a reason a 503 can carry.
    assert {why for _, why in stream.refused} <= {"LogUnavailable", "TimedOut", "DeliveryFailed"}
