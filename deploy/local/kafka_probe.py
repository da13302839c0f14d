"""Is a Kafka broker really serving? ``python -m deploy.local.kafka_probe --port 9092`` asks it
for cluster metadata through confluent-kafka (librdkafka) and prints one line of JSON::

    {"ok": true, "brokers": 1, "cluster": "q1Xx...", "controller": 1}
    {"ok": false, "error": "_AUTHENTICATION: SASL authentication error: ..."}

and exits 0 when ok, 1 otherwise. It logs in with SCRAM-SHA-512 as GELOMBANG_KAFKA_USERNAME /
GELOMBANG_KAFKA_PASSWORD from the environment when both are set (the credential stays out of
the command line, which any local user can read), in plaintext otherwise (a broker started
before the stack took SASL).

It runs in the venv's interpreter: stack.py itself runs on the system python3, before the venv
exists, so kafka_broker.py starts this as a child process and reads the line. An open port is
not enough: a broker accepts connections before it has joined the KRaft quorum, so it is ready
only once its answer names a controller. Only the bootstrap broker is asked, so with three nodes
each is probed on its own port.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._metadata import ClusterMetadata

from deploy.local.kafka_cluster import SASL_MECHANISM


def client_config(address: str, username: str, password: str) -> dict[str, Any]:
    config: dict[str, Any] = {"bootstrap.servers": address, "client.id": "gelombang-stack"}
    if username and password:
        config |= {
            "security.protocol": "sasl_plaintext",
            "sasl.mechanisms": SASL_MECHANISM,
            "sasl.username": username,
            "sasl.password": password,
        }
    return config


def answer(metadata: ClusterMetadata) -> dict[str, Any]:
    """What the broker said, and whether that makes it ready (a broker list and a controller)."""
    brokers = len(metadata.brokers)
    controller = metadata.controller_id
    return {
        "ok": brokers > 0 and controller >= 0,
        "brokers": brokers,
        "cluster": metadata.cluster_id,
        "controller": controller,
    }


def failure(exc: KafkaException, reported: list[KafkaError]) -> dict[str, Any]:
    """A failed metadata request says only that the transport failed or the time ran out; the
    client's own error reports say why (a refused login, a dropped connection), so the first of
    those is shown when there is one ("all brokers are down" follows every other, saying less)."""
    reasons = [err for err in reported if err.code() != KafkaError._ALL_BROKERS_DOWN]
    err = reasons[0] if reasons else exc.args[0]
    if not isinstance(err, KafkaError):
        return {"ok": False, "error": str(err)}
    return {"ok": False, "error": f"{err.name()}: {err.str()}"}


def probe(address: str, username: str, password: str, timeout: float) -> dict[str, Any]:
    reported: list[KafkaError] = []
    # The client's log lines would repeat on stderr what its error reports say.
    config = client_config(address, username, password)
    admin = AdminClient(config | {"error_cb": reported.append, "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        admin.poll(0)  # error reports are handed over only here
        return failure(exc, reported)
    return answer(metadata)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.kafka_probe")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds for the answer")
    args = parser.parse_args(argv)
    report = probe(
        f"{args.host}:{args.port}",
        os.environ.get("GELOMBANG_KAFKA_USERNAME", ""),
        os.environ.get("GELOMBANG_KAFKA_PASSWORD", ""),
        args.timeout,
    )
    print(json.dumps(report), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
