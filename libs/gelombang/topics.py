"""Create the project's Kafka topics; also the local stack's "Kafka is ready" check.

``python -m gelombang.topics ensure`` waits until a client can read cluster metadata, creates
missing topics and checks partition counts. Run by ``make up`` and the test suite.
"""

from __future__ import annotations

import asyncio
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from gelombang.command_line import ensure_command
from gelombang.events import EVENT_TOPICS, dead_letter_topic
from gelombang.kafka import aiokafka_auth
from gelombang.settings import KafkaAuth

ALL_TOPICS = EVENT_TOPICS + tuple(dead_letter_topic(t) for t in EVENT_TOPICS)


def topic_configs(min_insync_replicas: int) -> dict[str, str]:
    # How many replicas must have a write before acks=all acknowledges it: a majority, worked
    # out where the cluster is laid out (deploy/local/kafka_cluster.py for the local stack,
    # which hands it over as GELOMBANG_KAFKA_MIN_INSYNC_REPLICAS). With three, an accepted
    # sign-up survives losing any one broker, and with two of three down the log refuses
    # writes (the API answers 503 + Retry-After) instead of keeping a single copy. Unclean
    # leader election stays off (the broker default, said here for the record).
    return {
        "min.insync.replicas": str(min_insync_replicas),
        "unclean.leader.election.enable": "false",
    }


async def ensure_topics(
    bootstrap: str,
    partitions: int,
    timeout_s: float,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
    *,
    auth: KafkaAuth,
) -> dict[str, int]:
    """Return {topic: partition count} once every topic exists."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=5000,
            **aiokafka_auth(auth),
        )
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in ALL_TOPICS if t not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [
                            NewTopic(
                                t,
                                partitions,
                                replication_factor=replication_factor,
                                topic_configs=topic_configs(min_insync_replicas),
                            )
                            for t in missing
                        ]
                    )
                except TopicAlreadyExistsError:
                    pass  # another `ensure` won the race; the describe below checks the result
            described = await admin.describe_topics(list(ALL_TOPICS))
            counts = {d["topic"]: len(d["partitions"]) for d in described if not d["error_code"]}
            if set(counts) == set(ALL_TOPICS):
                return counts
            last_error = RuntimeError(f"topics not ready: {sorted(set(ALL_TOPICS) - set(counts))}")
        except (KafkaError, OSError) as exc:
            last_error = exc
        finally:
            await admin.close()
        await asyncio.sleep(1.0)
    raise TimeoutError(f"Kafka at {bootstrap} not ready after {timeout_s:.0f}s: {last_error!r}")


def main(argv: list[str] | None = None) -> int:
    settings, timeout_s = ensure_command(__doc__, argv, 90.0)
    try:
        counts = asyncio.run(
            ensure_topics(
                settings.kafka_bootstrap,
                settings.topic_partitions,
                timeout_s,
                settings.kafka_replication_factor,
                settings.kafka_min_insync_replicas,
                auth=settings.kafka_auth,
            )
        )
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for topic, count in sorted(counts.items()):
        print(f"  {topic}: {count} partitions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
