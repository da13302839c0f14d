"""Selection worker: ``python -m services.selection.worker --port 9125``.

- keeps the eligible pool: a consumer group on ``registrations.verified``, idempotent by
  registration id, offsets committed after the rows are stored;
- relays the decisions outbox (``selection.decided``) to Kafka;
- withdraws seats of selected people who did not start a training in time;
- refreshes the wave and pool gauges for the Waves dashboard.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from gelombang.events import REGISTRATIONS_VERIFIED, RegistrationVerified
from gelombang.kafka import Delivered, EventPublisher
from gelombang.logs import get_logger
from gelombang.metrics import (
    SELECTION_OUTBOX_PENDING,
    SELECTION_POOL_ELIGIBLE,
    SELECTION_REVOKED,
    SELECTION_WAVE_QUOTA,
    SELECTION_WAVE_SELECTED,
)
from gelombang.process import WorkerShell, consumer_ready, run_worker
from services.selection import repository
from services.selection.settings import SelectionSettings

log = get_logger(__name__)

# Waves shown on the dashboard: the current one and a few before it.
RECENT_WAVES = 4


class Worker:
    def __init__(
        self, pool: asyncpg.Pool, publisher: EventPublisher, settings: SelectionSettings
    ) -> None:
        self.pool = pool
        self.publisher = publisher
        self.settings = settings

    async def handle(self, batch: list[Delivered]) -> None:
        verified = [d.event for d in batch if isinstance(d.event, RegistrationVerified)]
        added = await repository.add_to_pool(self.pool, verified)
        if added:
            log.info("pool_grew", added=added)

    async def outbox_round(self) -> int:
        return await repository.OUTBOX.relay(self.pool, self.publisher, self.settings.outbox_batch)

    async def revocation_round(self) -> int:
        revoked = await repository.revoke_expired(
            self.pool, self.settings.confirm_within_days, datetime.now(UTC)
        )
        if revoked:
            SELECTION_REVOKED.inc(revoked)
            log.info("seats_revoked", count=revoked)
        return 0  # a sweep, not a queue: wait the full interval either way

    async def gauges_round(self) -> int:
        SELECTION_POOL_ELIGIBLE.clear()
        for province, tier, n in await repository.pool_by_province_and_tier(self.pool):
            SELECTION_POOL_ELIGIBLE.labels(province, str(tier)).set(n)
        waves = await repository.PostgresWaveStore(self.pool).all_waves()
        SELECTION_WAVE_QUOTA.clear()
        for wave in waves[-RECENT_WAVES:]:
            for province, seats in wave.quotas.items():
                SELECTION_WAVE_QUOTA.labels(str(wave.number), province).set(seats)
        SELECTION_WAVE_SELECTED.clear()
        for row in await repository.wave_fill(self.pool, RECENT_WAVES):
            SELECTION_WAVE_SELECTED.labels(
                str(row["wave"]), row["province_code"], str(row["tier"])
            ).set(row["n"])
        SELECTION_OUTBOX_PENDING.set(await repository.OUTBOX.backlog(self.pool))
        return 0


async def run(settings: SelectionSettings, host: str, port: int) -> None:
    async with WorkerShell("selection_worker") as shell:
        pool = await shell.pool(settings.database_url, max_size=settings.db_pool_max)
        publisher = await shell.publisher(settings, client_id=settings.group_id)
        worker = Worker(pool, publisher, settings)
        loop = await shell.consume_topics(
            settings, (REGISTRATIONS_VERIFIED,), worker.handle, publisher, "pool"
        )
        shell.every("outbox", worker.outbox_round, 0.5)
        shell.every("revocation", worker.revocation_round, settings.revocation_sweep_s)
        shell.every("gauges", worker.gauges_round, 5.0)
        await shell.serve(consumer_ready(loop, pool), host, port)


def main() -> None:
    run_worker(run, SelectionSettings, description="Gelombang selection worker", port=9125)


if __name__ == "__main__":
    main()
