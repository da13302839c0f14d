"""The local Kafka cluster's layout (deploy/local/kafka_cluster.py): what each node is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local import kafka_cluster
from deploy.local.kafka_cluster import Credential
from gelombang.topics import topic_configs

ADMIN = Credential("admin", "s3cret")


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
    conf = props(kafka_cluster.server_properties(node, [node], ADMIN))
    assert conf["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert conf["advertised.listeners"] == "CLIENT://127.0.0.1:9092,FAULTS://127.0.0.1:19094"
    assert conf["offsets.topic.replication.factor"] == "1"
    assert conf["transaction.state.log.min.isr"] == "1"


def test_three_brokers_form_one_quorum_with_replicated_internal_topics() -> None:
    nodes = kafka_cluster.layout(3, Path("/r/.run"), faults=(9094, 19094))
    assert [n.name for n in nodes] == ["kafka", "kafka-2", "kafka-3"]
    assert kafka_cluster.bootstrap(nodes) == "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"
    confs = [props(kafka_cluster.server_properties(n, nodes, ADMIN)) for n in nodes]
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
    """The stack's layout decides the majority; the topics take it as it is handed over."""
    for size, majority in ((1, 1), (3, 2)):
        nodes = kafka_cluster.layout(size, Path("/r/.run"))
        assert kafka_cluster.min_insync_replicas(nodes) == majority
        configs = topic_configs(kafka_cluster.min_insync_replicas(nodes))
        assert configs["min.insync.replicas"] == str(majority)
        assert configs["unclean.leader.election.enable"] == "false"


def test_only_the_sizes_the_stack_supports() -> None:
    with pytest.raises(ValueError, match="1 or 3"):
        kafka_cluster.layout(2, Path("/r/.run"))


def test_every_client_listener_authenticates_and_nothing_is_allowed_without_an_acl() -> None:
    (node,) = kafka_cluster.layout(1, Path("/r/.run"), faults=(9094, 19094))
    conf = props(kafka_cluster.server_properties(node, [node], ADMIN))
    protocols = dict(p.split(":") for p in conf["listener.security.protocol.map"].split(","))
    # The fault proxy's listener too: a client behind it logs in like any other.
    assert protocols == {
        "CLIENT": "SASL_PLAINTEXT",
        "FAULTS": "SASL_PLAINTEXT",
        "CONTROLLER": "PLAINTEXT",  # KRaft's own traffic, on loopback
    }
    assert conf["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert conf["inter.broker.listener.name"] == "CLIENT"
    assert conf["allow.everyone.if.no.acl.found"] == "false"
    assert conf["authorizer.class.name"].endswith("StandardAuthorizer")
    # ANONYMOUS only ever comes from the plaintext CONTROLLER listener: Kafka refuses to
    # register a broker there without it (CLUSTER_ACTION), seen on a private broker.
    assert set(conf["super.users"].split(";")) == {"User:admin", "User:ANONYMOUS"}
    jaas = conf["listener.name.client.scram-sha-512.sasl.jaas.config"]
    assert 'username="admin" password="s3cret"' in jaas  # what a broker presents to the others


def test_storage_is_formatted_with_the_admins_credential() -> None:
    (node,) = kafka_cluster.layout(1, Path("/r/.run"))
    argv = kafka_cluster.format_argv(
        "java", Path("/libs"), Path("/log4j"), Path("/log"), node, "cid", [ADMIN]
    )
    assert argv[argv.index("--add-scram") + 1] == "SCRAM-SHA-512=[name=admin,password=s3cret]"


def test_a_credential_that_would_need_quoting_is_refused() -> None:
    for name, password in (("admin", 'pw"; x'), ("ad min", "pw"), ("", "pw"), ("admin", "")):
        with pytest.raises(ValueError, match="SCRAM"):
            Credential(name, password)
    assert "s3cret" not in repr(ADMIN)
