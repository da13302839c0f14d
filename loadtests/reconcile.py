"""Reconciliation: every 202 the load generator got must be in Kafka and in the read model, once.

``python -m loadtests.reconcile reports/accepted-ids.json`` (written by ``make bench`` and by the
Locust scenarios): prints accepted, lost and duplicated and exits 1 on any loss or duplicate.

- lost: an accepted registration id missing from ``registrations.submitted`` or from the
  Postgres read model (``registrations``), after the projector caught up;
- duplicated: an id the generator was given twice, an id with more than one event in Kafka, or
  a NIK (by its hash) held by more than one accepted id in the read model. An id the log
  refused as a duplicate (a later sign-up of a NIK already held, which the edge let through:
  ``loadtests.repeats``) is in the log and the read model like any other, so it is not lost,
  but it holds no NIK: only the registration the log accepted does.

The comparison is pure (``reconcile``); only ``main`` talks to Kafka and Postgres.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from gelombang.events import REGISTRATIONS_SUBMITTED, RegistrationSubmitted
from gelombang.kafka import EVENT_TYPE_HEADER
from gelombang.settings import CommonSettings

# The generator's clock and the broker's may disagree a little; reading from a minute earlier
# costs a few extra records and never misses one.
KAFKA_SKEW_MS = 60_000
_CHUNK = 20_000
SUBMITTED_TYPE = RegistrationSubmitted.event_type.encode()
# The read model's mark of a registration the log refused as a later sign-up of a held NIK.
REFUSED_AS_DUPLICATE = "status = 'rejected' AND reason = 'duplicate'"


@dataclass(frozen=True)
class Reconciliation:
    accepted: int
    in_kafka: int
    in_read_model: int
    lost: int
    duplicated: int
    lost_ids: list[str] = field(default_factory=list)
    duplicated_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def reconcile(
    accepted_ids: Sequence[str],
    kafka_counts: Mapping[str, int],
    read_model: Mapping[str, str],
    refused: AbstractSet[str] = frozenset(),
    sample: int = 20,
) -> Reconciliation:
    """``kafka_counts``: id -> events seen; ``read_model``: id -> nik hash; ``refused``: ids the
    read model shows as refused duplicates. Ids are lower-case."""
    given = Counter(accepted_ids)
    unique = list(given)
    lost_ids = [i for i in unique if kafka_counts.get(i, 0) == 0 or i not in read_model]
    dup: list[str] = [i for i, n in given.items() if n > 1]
    dup += [i for i in unique if kafka_counts.get(i, 0) > 1]
    holding = [i for i in unique if i in read_model and i not in refused]
    holders = Counter(read_model[i] for i in holding)
    dup += [i for i in holding if holders[read_model[i]] > 1]
    duplicated = sorted(set(dup))
    return Reconciliation(
        accepted=len(unique),
        in_kafka=sum(1 for i in unique if kafka_counts.get(i, 0) > 0),
        in_read_model=sum(1 for i in unique if i in read_model),
        lost=len(lost_ids),
        duplicated=len(duplicated),
        lost_ids=lost_ids[:sample],
        duplicated_ids=duplicated[:sample],
    )


def registration_id_of(
    value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()
) -> str | None:
    """The id inside a RegistrationSubmitted record; None for anything unreadable, and for the
    other records of the intake topic (the decider's NIK releases name the registration they
    release: counting those would make it look submitted twice)."""
    event_type = dict(headers).get(EVENT_TYPE_HEADER)
    if event_type is not None and event_type != SUBMITTED_TYPE:
        return None
    if not value:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    rid = data.get("registration_id") if isinstance(data, dict) else None
    return rid.lower() if isinstance(rid, str) else None


async def kafka_counts(bootstrap: str, since_ms: int, wanted: set[str]) -> dict[str, int]:
    """How often each wanted id occurs in registrations.submitted from ``since_ms`` to now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([REGISTRATIONS_SUBMITTED])
    finally:
        await admin.close()
    partitions = [
        TopicPartition(REGISTRATIONS_SUBMITTED, p["partition"])
        for d in described
        for p in d["partitions"]
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=4 << 20
    )
    await consumer.start()
    counts: Counter[str] = Counter()
    try:
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        starts = await consumer.offsets_for_times(
            {tp: max(0, since_ms - KAFKA_SKEW_MS) for tp in partitions}
        )
        remaining = set()
        for tp in partitions:
            found = starts.get(tp)
            if found is None:
                continue  # nothing written since then
            consumer.seek(tp, found.offset)
            if found.offset < end[tp]:
                remaining.add(tp)
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10_000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    rid = registration_id_of(record.value, record.headers)
                    if rid is not None and rid in wanted:
                        counts[rid] += 1
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        # aiokafka's group-less coordinator starts a task it cancels on stop; if that task never
        # got a turn, awaiting it raises CancelledError. One turn of the loop lets it start.
        await asyncio.sleep(0)
        await consumer.stop()
    return dict(counts)


async def read_model_rows(database_url: str, ids: Sequence[str]) -> tuple[dict[str, str], set[str]]:
    """id -> nik hash of the ids in the read model, and those of them refused as duplicates."""
    conn = await asyncpg.connect(database_url)
    rows: dict[str, str] = {}
    refused: set[str] = set()
    try:
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            for row in await conn.fetch(
                "SELECT registration_id::text AS id, nik_hash,"  # noqa: S608 - a constant of ours
                f" ({REFUSED_AS_DUPLICATE}) AS duplicate FROM registrations"
                " WHERE registration_id = ANY($1::uuid[])",
                chunk,
            ):
                rows[row["id"]] = row["nik_hash"]
                if row["duplicate"]:
                    refused.add(row["id"])
    finally:
        await conn.close()
    return rows, refused


async def check(
    accepted_ids: Sequence[str], since_ms: int, settings: CommonSettings
) -> Reconciliation:
    ids = [i.lower() for i in accepted_ids]
    counts = await kafka_counts(settings.kafka_bootstrap, since_ms, set(ids))
    rows, refused = await read_model_rows(settings.database_url, sorted(set(ids)))
    return reconcile(ids, counts, rows, refused)


def write_ids(path: Path, since_ms: int, ids: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"since_ms": since_ms, "ids": list(ids)}))


def read_ids(path: Path) -> tuple[int, list[str]]:
    data = json.loads(path.read_text())
    return int(data["since_ms"]), [str(i) for i in data["ids"]]


def read_id_files(paths: Iterable[Path]) -> tuple[int, list[str]]:
    """Several generator processes (Locust workers) each write a file; one run, one answer."""
    since = int(time.time() * 1000)
    ids: list[str] = []
    for path in paths:
        file_since, file_ids = read_ids(path)
        since = min(since, file_since)
        ids += file_ids
    return since, ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="accepted-ids JSON file(s)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--wait-s",
        type=float,
        default=0.0,
        help="keep checking until nothing is lost or this many seconds passed (projector lag)",
    )
    args = parser.parse_args(argv)
    since_ms, ids = read_id_files(args.files)
    deadline = time.monotonic() + args.wait_s
    while True:
        result = asyncio.run(check(ids, since_ms, CommonSettings()))
        if result.ok or time.monotonic() >= deadline:
            break
        time.sleep(2.0)
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(
            f"accepted {result.accepted}  lost {result.lost}  duplicated {result.duplicated}"
            f"  (in kafka {result.in_kafka}, in read model {result.in_read_model})"
        )
        for rid in result.lost_ids:
            print(f"  lost: {rid}")
        for rid in result.duplicated_ids:
            print(f"  duplicated: {rid}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
