"""Confirming a phone by its SMS code, with fakes: a right code is never lost to an outage."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from gelombang.contact import OTP_MAX_ATTEMPTS, ContactSecrets, OtpCheck
from gelombang.events import REGISTRATIONS_CONTACT_CONFIRMED, ContactConfirmed, Event
from gelombang.kafka import PublishFailed
from services.registration.service import (
    ContactCollaborators,
    DependencyUnavailable,
    confirm_otp,
)
from tests.unit.fakes import FakeOnce, FakePublisher


@dataclass
class LiveCode:
    digest: str
    attempts: int = 0
    used: bool = False


@dataclass
class FakeOtps:
    """What ``gelombang.contact.OtpStore`` keeps per registration, in a dict."""

    codes: dict[str, LiveCode] = field(default_factory=dict)
    restore_down: bool = False

    def issue(self, registration_id: str, digest: str) -> None:
        self.codes[registration_id] = LiveCode(digest)

    async def check(self, registration_id: str, digest: str) -> OtpCheck:
        code = self.codes.get(registration_id)
        if code is None or code.used:
            return "expired"
        if code.attempts >= OTP_MAX_ATTEMPTS:
            return "locked"
        if code.digest == digest:
            code.used = True
            return "ok"
        code.attempts += 1
        return "locked" if code.attempts >= OTP_MAX_ATTEMPTS else "wrong"

    async def restore(self, registration_id: str, digest: str) -> bool:
        if self.restore_down:
            raise DependencyUnavailable("redis")
        code = self.codes.get(registration_id)
        if code is None or not code.used or code.digest != digest:
            return False
        code.used = False
        return True


@dataclass
class World:
    secrets: ContactSecrets = field(default_factory=lambda: ContactSecrets(b"h" * 32))
    otps: FakeOtps = field(default_factory=FakeOtps)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    registration_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def deps(self) -> ContactCollaborators:
        return ContactCollaborators(self.secrets, FakeOnce(), self.otps, self.publisher)

    def send_code(self, code: str) -> None:
        self.otps.issue(self.registration_id, self.secrets.otp_digest(self.registration_id, code))

    async def confirm(self, code: str) -> OtpCheck:
        return await confirm_otp(self.registration_id, code, self.deps)


async def test_a_right_code_confirms_once() -> None:
    world = World()
    world.send_code("123456")
    assert await world.confirm("123456") == "ok"
    [(topic, key, event)] = world.publisher.published
    assert topic == REGISTRATIONS_CONTACT_CONFIRMED and key == world.registration_id.encode()
    assert isinstance(event, ContactConfirmed) and event.method == "sms"
    assert await world.confirm("123456") == "expired"
    assert len(world.publisher.published) == 1


async def test_a_right_code_that_kafka_did_not_take_works_again_once_kafka_is_back() -> None:
    world = World()
    world.send_code("123456")
    world.publisher.failing = True
    with pytest.raises(PublishFailed):
        await world.confirm("123456")
    assert world.publisher.published == []

    world.publisher.failing = False
    assert await world.confirm("123456") == "ok"
    assert len(world.publisher.published) == 1
    assert await world.confirm("123456") == "expired"


async def test_giving_a_code_back_keeps_the_wrong_guesses_it_had() -> None:
    world = World()
    world.send_code("123456")
    for _ in range(OTP_MAX_ATTEMPTS - 1):
        assert await world.confirm("000000") == "wrong"
    world.publisher.failing = True
    with pytest.raises(PublishFailed):
        await world.confirm("123456")
    # The restored code has one guess left, as before: a failed publish buys nobody attempts.
    assert world.otps.codes[world.registration_id].attempts == OTP_MAX_ATTEMPTS - 1
    assert await world.confirm("000000") == "locked"
    world.publisher.failing = False
    assert await world.confirm("123456") == "locked"
    assert world.publisher.published == []


async def test_a_wrong_code_is_never_given_back_or_published() -> None:
    world = World()
    world.send_code("123456")
    world.publisher.failing = True
    assert await world.confirm("654321") == "wrong"
    assert world.otps.codes[world.registration_id].attempts == 1
    assert not world.otps.codes[world.registration_id].used


@dataclass
class NewCodeMeanwhile:
    """Kafka refuses the confirmation after the person already asked for, and got, a new code."""

    world: World

    async def publish(self, topic: str, key: bytes, event: Event) -> None:
        self.world.send_code("777777")
        raise PublishFailed(topic)


async def test_a_code_sent_since_is_not_replaced_by_the_one_given_back() -> None:
    world = World()
    world.send_code("123456")
    deps = ContactCollaborators(world.secrets, FakeOnce(), world.otps, NewCodeMeanwhile(world))
    with pytest.raises(PublishFailed):
        await confirm_otp(world.registration_id, "123456", deps)
    assert await world.confirm("123456") == "wrong"
    assert await world.confirm("777777") == "ok"


async def test_redis_failing_while_giving_back_still_answers_unavailable() -> None:
    world = World()
    world.send_code("123456")
    world.publisher.failing = True
    world.otps.restore_down = True
    # PublishFailed (503, retry), not the Redis error: the code is lost, the answer is the same.
    with pytest.raises(PublishFailed):
        await world.confirm("123456")
