"""The brokers themselves refuse what a service's Kafka principal may not do (issue 16, item 3).

Against the stack's Kafka as `make up` runs it: SASL/SCRAM on every client listener, the
StandardAuthorizer with nothing allowed that no ACL allows, and one principal per service with the
ACLs of ``gelombang.kafka_access`` (its password from .run/stack.env). What a person would notice:
a process without credentials, or with a wrong password, gets nothing; the public API cannot put a
``RegistrationVerified`` or a ``SelectionDecided`` in the log; verification cannot publish a
sign-up; and every service can still write what it owns and read what it consumes.

The positive writes are records nobody acts on: a status-link request for a NIK nobody
registered, records in dead-letter topics (no consumer reads those), and one ordinary sign-up
of a random citizen for the posko lane, whose only topic is the sign-up topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError, KafkaError, TopicAuthorizationFailedError

from gelombang.events import (
    REGISTRATIONS_SUBMITTED,
    REGISTRATIONS_VERIFIED,
    SELECTION_DECIDED,
    STATUS_LINK_REQUESTED,
    Event,
    StatusLinkRequested,
    dead_letter_topic,
)
from gelombang.kafka import EVENT_TYPE_HEADER, EventPublisher, aiokafka_auth, make_producer
from gelombang.kafka_access import PRINCIPALS, Principal
from gelombang.pii import PiiCipher
from gelombang.rdkafka import DeliveryFailed, RdKafkaPublisher
from gelombang.settings import CommonSettings, KafkaAuth
from tests.integration.test_poison_records import submission

pytestmark = pytest.mark.integration

ServiceAuth = Callable[[str], KafkaAuth]
HEADERS = [(EVENT_TYPE_HEADER, b"AclCheck")]


async def refused_at_start(settings: CommonSettings, auth: KafkaAuth) -> KafkaError:
    producer = make_producer(
        settings.kafka_bootstrap, "it-acl-refused", auth=auth, request_timeout_ms=5000
    )
    try:
        with pytest.raises(KafkaError) as refused:
            await producer.start()
    finally:
        await producer.stop()
    return refused.value


async def test_a_client_without_credentials_gets_nothing(settings: CommonSettings) -> None:
    await refused_at_start(settings, KafkaAuth())  # plaintext, no SASL at all


async def test_a_wrong_password_gets_nothing(
    settings: CommonSettings, service_auth: ServiceAuth
) -> None:
    right = service_auth("registration")
    await refused_at_start(settings, right.as_user(right.username, "not-" + right.password))
    await refused_at_start(settings, right.as_user("nobody-" + uuid.uuid4().hex[:8], "x"))


async def test_the_sign_up_api_cannot_publish_a_verification_or_a_decision(
    settings: CommonSettings, service_auth: ServiceAuth
) -> None:
    # The API's own client (librdkafka), as services.registration.app builds it.
    api = service_auth("registration")
    async with RdKafkaPublisher(
        settings.kafka_bootstrap, "it-acl-registration", timeout_s=10, auth=api
    ) as publisher:
        for topic in (REGISTRATIONS_VERIFIED, SELECTION_DECIDED):
            with pytest.raises(DeliveryFailed, match="TOPIC_AUTHORIZATION_FAILED"):
                await publisher.publish_raw(topic, b"k", b"forged", HEADERS)
        # The breaker stays closed: a refused topic is this record's fault, not the log's.
        assert publisher.breaker.closed


async def test_verification_cannot_publish_a_sign_up(
    settings: CommonSettings, service_auth: ServiceAuth
) -> None:
    producer = make_producer(
        settings.kafka_bootstrap, "it-acl-verification", auth=service_auth("verification")
    )
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(REGISTRATIONS_SUBMITTED, b"forged", key=b"k")
        # Nor park records of topics it does not consume.
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(dead_letter_topic(REGISTRATIONS_VERIFIED), b"x")
    finally:
        await producer.stop()


async def test_a_service_cannot_take_another_services_consumer_group(
    settings: CommonSettings, service_auth: ServiceAuth
) -> None:
    consumer = AIOKafkaConsumer(
        REGISTRATIONS_VERIFIED,  # a topic it may read, in the projector's group
        bootstrap_servers=settings.kafka_bootstrap,
        group_id="registration-projector",
        enable_auto_commit=False,
        **aiokafka_auth(service_auth("selection")),
    )
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await consumer.start()
            await consumer.getmany(timeout_ms=10_000)
    finally:
        await consumer.stop()


async def can_read(settings: CommonSettings, auth: KafkaAuth, topic: str) -> bool:
    """Fetch partition 0 of ``topic`` from its start, without a group. Given for a topic the
    principal can see (may describe): a principal that may not describe a topic sees no such
    topic at all, and the client waits for it instead of failing."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, **aiokafka_auth(auth)
    )
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        await consumer.getmany(timeout_ms=1000)
    except TopicAuthorizationFailedError:
        return False
    finally:
        await consumer.stop()
    return True


async def test_writing_a_topic_is_not_reading_it(
    settings: CommonSettings, service_auth: ServiceAuth
) -> None:
    # The API writes sign-ups and may not read anyone's back.
    assert not await can_read(settings, service_auth("registration"), REGISTRATIONS_SUBMITTED)
    assert not await can_read(settings, service_auth("assisted"), REGISTRATIONS_SUBMITTED)


def harmless_record(principal: Principal, cipher: PiiCipher) -> tuple[str, bytes, Event | None]:
    """(topic, key, event) that ``principal`` owns and nobody acts on; None: raw bytes."""
    if principal.consumes:  # a service that consumes may park records of those topics
        return dead_letter_topic(principal.consumes[0]), b"acl-check", None
    if principal.name == "registration":
        unknown = StatusLinkRequested(
            nik_hash=uuid.uuid4().hex * 2, contact_kind="email", contact_hash=uuid.uuid4().hex * 2
        )
        return STATUS_LINK_REQUESTED, unknown.message_key(), unknown
    signed_up = submission(cipher)  # the posko lane's only topic: an ordinary sign-up
    return REGISTRATIONS_SUBMITTED, signed_up.message_key(), signed_up


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.name)
async def test_each_service_writes_what_it_owns_and_reads_what_it_consumes(
    principal: Principal,
    settings: CommonSettings,
    service_auth: ServiceAuth,
    cipher: PiiCipher,
) -> None:
    auth = service_auth(principal.name)
    topic, key, event = harmless_record(principal, cipher)
    producer = make_producer(settings.kafka_bootstrap, f"it-acl-{principal.name}", auth=auth)
    await producer.start()
    try:
        publisher = EventPublisher(producer)
        if event is None:
            await publisher.publish_raw(topic, key, b"acl-check", HEADERS)
        else:
            await publisher.publish(topic, key, event)
    finally:
        await producer.stop()
    for consumed in principal.consumes:
        assert await can_read(settings, auth, consumed), f"{principal.name} cannot read {consumed}"
