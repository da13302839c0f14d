"""Fakes of the collaborators that several unit tests hand to the logic (no I/O, no mocks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gelombang.events import Event
from gelombang.kafka import PublishFailed


class FakeClock:
    """A clock that moves only when the test moves ``now``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class FakePublisher:
    """Kafka as the publishing logic sees it: what was published, or a publish that fails."""

    published: list[tuple[str, bytes, Event]] = field(default_factory=list)
    failing: bool = False

    async def publish(self, topic: str, key: bytes, event: Event) -> None:
        if self.failing:
            raise PublishFailed(topic)
        self.published.append((topic, key, event))


@dataclass
class FakeOnce:
    """Redis's remember-a-key-once (SET NX with a TTL), in a set."""

    seen: set[str] = field(default_factory=set)

    async def first_time(self, key: str, ttl_s: int) -> bool:
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    async def forget(self, key: str) -> None:
        self.seen.discard(key)


class FakePool:
    """A Postgres pool as a readiness check sees it: up, or refusing connections."""

    def __init__(self, up: bool) -> None:
        self.up = up

    async def fetchval(self, query: str) -> int:
        if not self.up:
            raise ConnectionRefusedError("Connection refused")
        return 1
