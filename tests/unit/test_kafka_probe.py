"""The local stack's Kafka readiness check: what the probe (deploy/local/kafka_probe.py, in the
venv, through confluent-kafka) makes of a broker's metadata answer, and what the status table
shows of the probe's line (deploy/local/kafka_broker.py). No broker is contacted."""

from __future__ import annotations

import json

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin._metadata import BrokerMetadata, ClusterMetadata

from deploy.local import kafka_cluster
from deploy.local.kafka_broker import probe_health
from deploy.local.kafka_probe import answer, client_config, failure

CLUSTER = "a37Tu7xCQc2cz9a0iqDl0w"


def metadata(brokers: int, controller: int, cluster: str = CLUSTER) -> ClusterMetadata:
    made = ClusterMetadata()
    made.cluster_id = cluster  # type: ignore[assignment]  # the stub types it as always None
    made.controller_id = controller
    for node_id in range(1, brokers + 1):
        made.brokers[node_id] = BrokerMetadata()
        made.brokers[node_id].id = node_id
    return made


def status(md: ClusterMetadata) -> tuple[bool, str]:
    """The probe's printed line, as the stack reads it back."""
    return probe_health(json.dumps(answer(md)) + "\n")


def test_a_broker_that_names_a_controller_is_ready() -> None:
    assert status(metadata(brokers=1, controller=1)) == (
        True,
        f"metadata: 1 broker(s), cluster {CLUSTER}",
    )
    assert status(metadata(brokers=3, controller=2, cluster="c3")) == (
        True,
        "metadata: 3 broker(s), cluster c3",
    )


def test_a_broker_still_joining_the_quorum_is_not_ready_although_it_answers() -> None:
    assert status(metadata(brokers=1, controller=-1)) == (
        False,
        f"metadata: 1 broker(s), cluster {CLUSTER}",
    )
    assert status(metadata(brokers=0, controller=1))[0] is False


def test_a_refused_login_is_shown_rather_than_the_generic_failure() -> None:
    refused = KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: bad password")
    all_down = KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down")
    generic = KafkaException(KafkaError(KafkaError._TRANSPORT, "Failed to get metadata"))
    report = failure(generic, [refused, all_down, refused])
    assert probe_health(json.dumps(report)) == (
        False,
        "metadata: _AUTHENTICATION: SASL authentication error: bad password",
    )
    # No report from the client: the failed request's own error is all there is.
    assert failure(generic, [all_down]) == {
        "ok": False,
        "error": "_TRANSPORT: Failed to get metadata",
    }


def test_a_probe_that_wrote_no_answer_fails_with_its_last_words() -> None:
    crashed = "Traceback (most recent call last):\nModuleNotFoundError: No module named 'x'\n"
    assert probe_health(crashed) == (
        False,
        "metadata: the probe failed: ModuleNotFoundError: No module named 'x'",
    )
    assert probe_health("") == (False, "metadata: the probe failed: no output")


def test_the_probe_logs_in_with_the_brokers_mechanism_and_only_with_a_credential() -> None:
    sasl = client_config("127.0.0.1:9192", "admin", "s3cret")
    assert sasl["bootstrap.servers"] == "127.0.0.1:9192"  # one node: each is probed on its own
    assert sasl["security.protocol"] == "sasl_plaintext"
    assert sasl["sasl.mechanisms"] == kafka_cluster.SASL_MECHANISM
    # A broker started before SASL: plaintext, librdkafka's default.
    assert "security.protocol" not in client_config("127.0.0.1:9092", "", "")
