"""Reconciliation: every 202 the load generator got must be in Kafka and in the read model, once.

``python -m loadtests.reconcile reports/accepted-ids.json`` (written by ``make bench``) or
``python -m loadtests.reconcile --expect-files 2 'reports/load-ids-*.json'`` (one file per Locust
process that ran users): names each file it read and the ids it held, then prints accepted
(beside the 202s Locust counted), lost and duplicated. Exit 1 on any loss or duplicate, or on
fewer ids than 202s (an accepted sign-up the generator did not keep cannot be checked); exit 2
when there is nothing to judge: an id file missing after ``--files-wait-s``, more files than
expected, or no ids at all.

Patterns are expanded here, not by the shell: Locust's worker processes may write their files
after the ``locust`` command has returned, and a shell glob would miss them.

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
import glob
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from gelombang.events import REGISTRATIONS_SUBMITTED, RegistrationSubmitted
from gelombang.kafka import EVENT_TYPE_HEADER, aiokafka_connection
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


async def kafka_counts(kafka: dict[str, Any], since_ms: int, wanted: set[str]) -> dict[str, int]:
    """How often each wanted id occurs in registrations.submitted from ``since_ms`` to now."""
    admin = AIOKafkaAdminClient(**kafka)
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
        **kafka, enable_auto_commit=False, max_partition_fetch_bytes=4 << 20
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
    counts = await kafka_counts(aiokafka_connection(settings), since_ms, set(ids))
    rows, refused = await read_model_rows(settings.database_url, sorted(set(ids)))
    return reconcile(ids, counts, rows, refused)


def write_ids(
    path: Path, since_ms: int, ids: Iterable[str], answered_202: int | None = None
) -> None:
    """``answered_202``: the sign-up 202s the generator saw, counted apart from the ids it kept.

    Written whole or not at all (temporary file, then rename): the reader waits for the file to
    appear and must never read one half written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, object] = {"since_ms": since_ms, "ids": list(ids)}
    if answered_202 is not None:
        data["answered_202"] = answered_202
    # A dot name never matches the readers' ``load-ids-*.json`` pattern.
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(data))
    os.replace(partial, path)


@dataclass(frozen=True)
class IdFile:
    path: Path
    since_ms: int
    ids: list[str]
    answered_202: int | None = None  # None: a writer that does not count them (the bench)


def read_id_file(path: Path) -> IdFile:
    data = json.loads(path.read_text())
    answered = data.get("answered_202")
    return IdFile(
        path,
        int(data["since_ms"]),
        [str(i) for i in data["ids"]],
        None if answered is None else int(answered),
    )


def find_id_files(patterns: Sequence[str]) -> list[Path]:
    """The files the patterns name now: globs expanded, plain names kept if they exist."""
    found: set[Path] = set()
    for pattern in patterns:
        found.update(Path(p) for p in glob.glob(pattern))
    return sorted(found)


def _complete(patterns: Sequence[str], found: Sequence[Path], expected: int | None) -> bool:
    if expected is not None:
        return len(found) >= expected
    # No count given: every pattern must name at least one file.
    return all(glob.glob(pattern) for pattern in patterns)


def collect_id_files(
    patterns: Sequence[str],
    expected: int | None,
    wait_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Path]:
    """The id files, once ``expected`` of them exist (or every pattern matches one) or
    ``wait_s`` has passed; whatever is there then. Judging what is missing is the caller's."""
    deadline = clock() + wait_s
    while True:
        found = find_id_files(patterns)
        if _complete(patterns, found, expected) or clock() >= deadline:
            return found
        sleep(0.5)


@dataclass(frozen=True)
class IdFiles:
    files: list[IdFile]
    expected: int | None
    patterns: list[str]

    @property
    def ids(self) -> list[str]:
        return [i for f in self.files for i in f.ids]

    @property
    def since_ms(self) -> int:
        return min((f.since_ms for f in self.files), default=int(time.time() * 1000))

    @property
    def answered_202(self) -> int | None:
        """The 202s the generator counted, if every file counted them."""
        counts = [f.answered_202 for f in self.files]
        if not counts or any(c is None for c in counts):
            return None
        return sum(c for c in counts if c is not None)

    @property
    def unrecorded(self) -> int:
        """202s the generator counted but kept no id for: accepted, yet impossible to check."""
        answered = self.answered_202
        return 0 if answered is None else max(0, answered - len(self.ids))

    def problem(self) -> str | None:
        """Why these files cannot give a verdict at all; None when they can."""
        found = len(self.files)
        if self.expected is not None and found < self.expected:
            return (
                f"expected {self.expected} id file(s) (one per Locust process that ran users),"
                f" found {found}: a process crashed, was killed or did not finish stopping"
            )
        if self.expected is not None and found > self.expected:
            return (
                f"expected {self.expected} id file(s), found {found}: files of another run?"
                " Remove them and run again"
            )
        if not self.files:
            return f"no id file matches {' '.join(self.patterns)}"
        if not self.ids:
            return "the id files hold no ids: the generator kept no sign-up answered 202"
        return None

    def describe(self) -> list[str]:
        lines = [
            f"id files read: {len(self.files)}"
            + (f" of {self.expected} expected" if self.expected is not None else "")
        ]
        for f in self.files:
            answered = "" if f.answered_202 is None else f", {f.answered_202} answers 202"
            empty = "  (EMPTY)" if not f.ids else ""
            lines.append(f"  {f.path}: {len(f.ids)} ids{answered}{empty}")
        return lines


def load_id_files(paths: Sequence[Path], expected: int | None, patterns: Sequence[str]) -> IdFiles:
    return IdFiles([read_id_file(p) for p in paths], expected, list(patterns))


def verdict_line(result: Reconciliation, answered_202: int | None) -> str:
    answered = "" if answered_202 is None else f" (Locust counted {answered_202} answers 202)"
    return (
        f"accepted {result.accepted}{answered}  lost {result.lost}"
        f"  duplicated {result.duplicated}"
        f"  (in kafka {result.in_kafka}, in read model {result.in_read_model})"
    )


Checker = Callable[[Sequence[str], int, CommonSettings], Coroutine[Any, Any, Reconciliation]]
NO_VERDICT = 2


def main(argv: list[str] | None = None, checker: Checker = check) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "files", nargs="+", help="accepted-ids JSON file(s) or glob pattern(s), quoted"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--expect-files",
        type=int,
        default=None,
        help="how many id files the run writes (make load: LOAD_PROCESSES); wait for them",
    )
    parser.add_argument(
        "--files-wait-s",
        type=float,
        default=60.0,
        help="how long to wait for the id files (Locust workers write theirs as they stop)",
    )
    parser.add_argument(
        "--wait-s",
        type=float,
        default=0.0,
        help="keep checking until nothing is lost or this many seconds passed (projector lag)",
    )
    args = parser.parse_args(argv)
    if args.expect_files is not None and args.expect_files < 1:
        parser.error("--expect-files must be 1 or more")
    paths = collect_id_files(args.files, args.expect_files, args.files_wait_s)
    loaded = load_id_files(paths, args.expect_files, args.files)
    # --json keeps stdout to the one JSON answer.
    report = sys.stderr if args.json else sys.stdout
    for line in loaded.describe():
        print(line, file=report)
    if problem := loaded.problem():
        print(f"NO VERDICT: {problem}", file=report)
        return NO_VERDICT
    deadline = time.monotonic() + args.wait_s
    while True:
        result = asyncio.run(checker(loaded.ids, loaded.since_ms, CommonSettings()))
        if result.ok or time.monotonic() >= deadline:
            break
        time.sleep(2.0)
    unrecorded = loaded.unrecorded
    if args.json:
        print(
            json.dumps(
                {**asdict(result), "answered_202": loaded.answered_202, "unrecorded": unrecorded}
            )
        )
    else:
        print(verdict_line(result, loaded.answered_202))
        for rid in result.lost_ids:
            print(f"  lost: {rid}")
        for rid in result.duplicated_ids:
            print(f"  duplicated: {rid}")
    if unrecorded:
        print(
            f"UNCHECKED: {unrecorded} sign-up(s) answered 202 left no id in the files",
            file=report,
        )
    return 0 if result.ok and not unrecorded else 1


if __name__ == "__main__":
    sys.exit(main())
