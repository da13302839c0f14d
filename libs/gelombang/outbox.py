"""Transactional outbox: events stored with the state change that causes them, published later.

A service writes its events into its own ``<service>_outbox`` table in the same transaction as
the change ("selected", "verified"), and a relay loop publishes pending rows to Kafka and marks
them only after the broker acknowledged (acks=all). So "state stored" and "event sent" never
disagree for long, and a crash between the two re-sends (consumers are idempotent by event id).
The tables share one shape (see the services' migrations); only the name differs.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from gelombang.events import Event
from gelombang.kafka import EVENT_TYPE_HEADER, EventPublisher

# asyncpg ships no type information; connections and pool proxies share this interface.
Connection = Any

_TABLE = re.compile(r"[a-z_]+_outbox")


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    event_type: str
    key: bytes | None
    payload: bytes


class Outbox:
    def __init__(self, table: str, topic_of: Mapping[str, str]) -> None:
        # The name is spliced into SQL, so it must be one of ours, never input.
        if not _TABLE.fullmatch(table):
            raise ValueError(f"not an outbox table name: {table!r}")
        self.table = table
        self._topic_of = dict(topic_of)
        # The table name is one of ours, checked above: splicing it in is safe.
        cols = "id, topic, event_type, message_key, payload"
        self._insert = (
            f"INSERT INTO {table} (topic, event_type, message_key, payload) VALUES ($1, $2, $3, $4)"  # noqa: S608
        )
        self._pending = f"SELECT {cols} FROM {table} WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"  # noqa: E501, S608
        self._mark = f"UPDATE {table} SET published_at = now() WHERE id = ANY($1::bigint[])"  # noqa: S608
        self._count = f"SELECT count(*) FROM {table} WHERE published_at IS NULL"  # noqa: S608

    @property
    def topics(self) -> frozenset[str]:
        """Every topic this outbox publishes to (its service's Kafka principal must write them)."""
        return frozenset(self._topic_of.values())

    async def add(self, conn: Connection, events: Sequence[Event]) -> None:
        if not events:
            return
        await conn.executemany(
            self._insert,
            [
                (
                    self._topic_of[e.event_type],
                    e.event_type,
                    e.message_key(),
                    e.to_bytes(),
                )
                for e in events
            ],
        )

    async def relay(self, pool: asyncpg.Pool, publisher: EventPublisher, limit: int) -> int:
        """Publish up to ``limit`` pending rows in order; mark them once Kafka acknowledged.

        Rows are locked SKIP LOCKED, so several relays (one per worker process) share the work.
        If publishing fails nothing is marked and the rows go out on a later round.
        """
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                self._pending,
                limit,
            )
            if not rows:
                return 0
            batch = [
                OutboxRow(r["id"], r["topic"], r["event_type"], r["message_key"], r["payload"])
                for r in rows
            ]
            await asyncio.gather(
                *(
                    publisher.publish_raw(
                        r.topic, r.key, r.payload, [(EVENT_TYPE_HEADER, r.event_type.encode())]
                    )
                    for r in batch
                )
            )
            await conn.execute(
                self._mark,
                [r.id for r in batch],
            )
        return len(batch)

    async def backlog(self, pool: asyncpg.Pool) -> int:
        count: int = await pool.fetchval(self._count)
        return count
