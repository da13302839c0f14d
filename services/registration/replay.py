"""Rebuild the decisions and the status read model from the log, and compare with the live ones.

``python -m services.registration replay``. The log is the record: ``registrations.submitted``
holds every attempt and every NIK release in its NIK's order, the other topics every status
step. This reads all of it from the beginning (up to where each partition ends when the run
starts) through the projector's own handler into empty tables in a schema of their own, then
compares verdicts, NIK claims and statuses with the live tables. Nothing is published, nothing
is written to Redis, no consumer group is joined or committed.

A difference in a verdict or a claim is a broken promise ("the same log gives the same
decisions") and makes the command fail. A live status that moved on after the run began (a step
that reached the live projector after the snapshot) is reported, not counted as a difference.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from tqdm import tqdm

from gelombang.events import dead_letter_topic
from gelombang.kafka import Delivered, aiokafka_connection, decode_record
from gelombang.postgres import create_pool
from services.registration.settings import ProjectorSettings
from services.registration.worker import TOPICS, Projector


class Progress(Protocol):
    def update(self, n: int) -> object: ...


# The projector's tables, rebuilt side by side with the live ones. The schema name is checked
# (checked_schema) before it is spliced into SQL, so S608 does not apply to these statements.
TABLES = ("registrations", "nik_claims", "registration_history", "registration_outbox")
BATCH = 5000


@dataclass
class Comparison:
    replayed: int  # registrations rebuilt from the log
    verdicts_differ: int
    claims_differ: int
    statuses_differ: int
    statuses_moved_on: int  # live status changed after the snapshot: not a difference
    missing_live: int  # rebuilt, but not (yet) in the live read model

    @property
    def same(self) -> bool:
        return not (self.verdicts_differ or self.claims_differ or self.statuses_differ)


_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,40}")


def checked_schema(name: str) -> str:
    """The schema name is spliced into SQL: only a plain lowercase identifier, and never the
    live one."""
    if not _SCHEMA.fullmatch(name) or name in {"public", "pg_catalog", "information_schema"}:
        raise ValueError(f"not a schema name for a rebuild: {name!r}")
    return name


async def prepare_schema(conn: asyncpg.Connection, schema: str) -> None:
    schema = checked_schema(schema)
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    for table in TABLES:
        await conn.execute(f'CREATE TABLE "{schema}".{table} (LIKE public.{table} INCLUDING ALL)')


async def log_bounds(
    kafka: dict[str, Any], topics: tuple[str, ...]
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """(first offset, end offset) of every partition of ``topics``, now."""
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [
        TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
    ]
    consumer = AIOKafkaConsumer(**kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return dict(starts), dict(ends)


async def read_until(
    kafka: dict[str, Any], starts: dict[TopicPartition, int], ends: dict[TopicPartition, int]
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Every record from the start of each partition up to (not including) ``ends``, in
    batches of at most ``BATCH``, each partition in its order. No group, nothing committed."""
    wanted = {tp: end for tp, end in ends.items() if end > starts.get(tp, 0)}
    if not wanted:
        return
    consumer = AIOKafkaConsumer(
        **kafka, enable_auto_commit=False, max_poll_records=BATCH
    )
    await consumer.start()
    try:
        consumer.assign(list(wanted))
        await consumer.seek_to_beginning(*wanted)
        while wanted:
            batches = await consumer.getmany(*wanted, timeout_ms=1000, max_records=BATCH)
            batch: list[ConsumerRecord[bytes, bytes]] = []
            for tp, records in batches.items():
                # Written after the snapshot: the live side may not have it yet.
                batch += [r for r in records if r.offset < ends[tp]]
                if records and records[-1].offset + 1 >= ends[tp]:
                    wanted.pop(tp, None)
            yield batch
    finally:
        await consumer.stop()


async def parked_records(kafka: dict[str, Any], group: str, topics: tuple[str, ...]) -> set[str]:
    """``topic/partition/offset`` of every record the live ``group`` parked in a dead-letter
    topic: the live decider skipped them, so the rebuild does too."""
    starts, ends = await log_bounds(kafka, tuple(dead_letter_topic(t) for t in topics))
    parked: set[str] = set()
    async for batch in read_until(kafka, starts, ends):
        for record in batch:
            headers = dict(record.headers or ())
            if headers.get("dlq_group", b"").decode() == group:
                parked.add(headers.get("dlq_source", b"").decode())
    return parked


async def rebuild(
    kafka: dict[str, Any],
    pool: asyncpg.Pool,
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    parked: set[str],
    progress: Progress,
) -> tuple[int, int]:
    """Feed every record up to ``ends`` to the projector's handler, except those the live
    projector parked. (handled, skipped)."""
    projector = Projector(pool)  # no Redis hints, no outbox relay: a rebuild publishes nothing
    handled = skipped = 0
    async for batch in read_until(kafka, starts, ends):
        delivered: list[Delivered] = []
        for record in batch:
            if f"{record.topic}/{record.partition}/{record.offset}" in parked:
                skipped += 1
                continue
            try:
                delivered.append(decode_record(record))
            except Exception:  # undecodable: the live consumer parked it too
                skipped += 1
        if delivered:
            await projector.handle(delivered)
        handled += len(batch)
        progress.update(len(batch))
    return handled, skipped


async def wait_for_live(
    kafka: dict[str, Any], group: str, ends: dict[TopicPartition, int], timeout_s: float
) -> bool:
    """True once the live projector has committed at least up to ``ends`` everywhere."""
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            committed = await admin.list_consumer_group_offsets(group)
            behind = [
                tp
                for tp, end in ends.items()
                if tp not in committed or committed[tp].offset < end
            ]
            if not behind:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(1.0)
    finally:
        await admin.close()


async def compare(conn: asyncpg.Connection, schema: str, snapshot_at: float) -> Comparison:
    s = f'"{checked_schema(schema)}"'
    replayed = await conn.fetchval(f"SELECT count(*) FROM {s}.registrations")
    verdicts = await conn.fetchval(
        f"""SELECT count(*) FROM {s}.registrations r JOIN public.registrations l
                 USING (registration_id) WHERE r.decision IS DISTINCT FROM l.decision"""
    )
    missing = await conn.fetchval(
        f"""SELECT count(*) FROM {s}.registrations r
             WHERE NOT EXISTS (SELECT 1 FROM public.registrations l
                                WHERE l.registration_id = r.registration_id)"""
    )
    # Claims of the NIKs the rebuild saw: the same holder, or free on both sides.
    claims = await conn.fetchval(
        f"""WITH niks AS (SELECT DISTINCT nik_hash FROM {s}.registrations)
            SELECT count(*) FROM niks n
              LEFT JOIN {s}.nik_claims r USING (nik_hash)
              LEFT JOIN public.nik_claims l USING (nik_hash)
             WHERE r.registration_id IS DISTINCT FROM l.registration_id"""
    )
    statuses = await conn.fetch(
        f"""SELECT l.updated_at > to_timestamp($1) AS moved_on, count(*) AS n
              FROM {s}.registrations r JOIN public.registrations l USING (registration_id)
             WHERE (r.status, r.reason, r.wave) IS DISTINCT FROM (l.status, l.reason, l.wave)
             GROUP BY 1""",
        snapshot_at,
    )
    by_kind = {row["moved_on"]: int(row["n"]) for row in statuses}
    return Comparison(
        replayed=int(replayed),
        verdicts_differ=int(verdicts),
        claims_differ=int(claims),
        statuses_differ=by_kind.get(False, 0),
        statuses_moved_on=by_kind.get(True, 0),
        missing_live=int(missing),
    )


async def replay(
    settings: ProjectorSettings,
    schema: str = "replay",
    keep: bool = False,
    live_timeout_s: float = 120.0,
) -> Comparison:
    snapshot_at = time.time()
    # What every client here is given: the brokers and the principal (the projector's).
    kafka = aiokafka_connection(settings)
    starts, ends = await log_bounds(kafka, TOPICS)
    total = sum(max(0, ends[tp] - starts.get(tp, 0)) for tp in ends)
    admin = await asyncpg.connect(settings.database_url)
    try:
        await prepare_schema(admin, schema)
        pool = await create_pool(
            settings.database_url,
            min_size=1,
            max_size=2,
            server_settings={"search_path": f'"{schema}"'},
        )
        parked = await parked_records(kafka, settings.group_id, TOPICS)
        started = time.monotonic()
        try:
            with tqdm(total=total, unit=" records", desc="replay", file=sys.stderr) as bar:
                handled, undecodable = await rebuild(
                    kafka, pool, starts, ends, parked, bar
                )
        finally:
            await pool.close()
        elapsed = time.monotonic() - started
        print(
            f"rebuilt from {handled:,} records in {elapsed:.1f} s"
            f" ({handled / elapsed if elapsed else 0:,.0f}/s); {undecodable} skipped (parked live)",
            file=sys.stderr,
        )
        caught_up = await wait_for_live(
            kafka, settings.group_id, ends, live_timeout_s
        )
        if not caught_up:
            print(
                f"warning: the live projector had not reached the snapshot after"
                f" {live_timeout_s:.0f} s; registrations it has not stored yet are reported"
                " as missing",
                file=sys.stderr,
            )
        result = await compare(admin, schema, snapshot_at)
        if not keep:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.close()
    return result
