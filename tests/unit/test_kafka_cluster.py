"""The local Kafka cluster's layout (deploy/local/kafka_cluster.py): what each node is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local import kafka_cluster
from gelombang.topics import topic_configs


def props(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}


def test_one_broker_keeps_the_ports_and_paths_a_laptop_stack_always_had() -> None:
    (node,) = kafka_cluster.layout(1, Path("/r/.run"), faults=(9094, 19094))
    assert (node.name, node.address, node.directory) == (
        "kafka",
        "127.0.0.1:9092",
        Path("/r/.run/kafka"),
    )
    conf = props(kafka_cluster.server_properties(node, [node]))
    assert conf["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert conf["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092,FAULTS://127.0.0.1:19094"
    assert conf["offsets.topic.replication.factor"] == "1"
    assert conf["transaction.state.log.min.isr"] == "1"


def test_three_brokers_form_one_quorum_with_replicated_internal_topics() -> None:
    nodes = kafka_cluster.layout(3, Path("/r/.run"), faults=(9094, 19094))
    assert [n.name for n in nodes] == ["kafka", "kafka-2", "kafka-3"]
    assert kafka_cluster.bootstrap(nodes) == "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"
    confs = [props(kafka_cluster.server_properties(n, nodes)) for n in nodes]
    voters = "1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293"
    assert {c["controller.quorum.voters"] for c in confs} == {voters}
    assert [c["node.id"] for c in confs] == ["1", "2", "3"]
    assert len({c["log.dirs"] for c in confs}) == 3
    for conf in confs:
        assert conf["offsets.topic.replication.factor"] == "3"
        assert conf["transaction.state.log.min.isr"] == "2"
        assert conf["unclean.leader.election.enable"] == "false"
        # The fault proxy fronts one broker: with three, clients would route around it.
        assert "FAULTS" not in conf["listeners"]


def test_application_topics_need_a_majority_of_replicas_for_a_write() -> None:
    assert topic_configs(3)["min.insync.replicas"] == "2"
    assert topic_configs(1)["min.insync.replicas"] == "1"
    assert topic_configs(3)["unclean.leader.election.enable"] == "false"


def test_only_the_sizes_the_stack_supports() -> None:
    with pytest.raises(ValueError, match="1 or 3"):
        kafka_cluster.layout(2, Path("/r/.run"))
