"""Who may do what on Kafka: one principal per service, and the ACLs that follow from what each
service writes and consumes.

The brokers refuse whatever no ACL allows (``allow.everyone.if.no.acl.found=false``). A service
writes only the topics it owns, reads only the topics it consumes, joins only its own consumer
group, and parks records only in the dead-letter topics of what it consumes. So the public API
cannot publish a ``RegistrationVerified`` or a ``SelectionDecided``, and verification cannot
publish a sign-up. Idempotent producers need nothing more: since Kafka 2.8 (KIP-679) WRITE on a
topic is enough for ``InitProducerId``; no principal gets IDEMPOTENT_WRITE on the cluster.

``python -m gelombang.kafka_access ensure`` (run by the local stack's ``make up`` and by
compose's ``kafka-access`` service, as the admin principal) stores each principal's SCRAM
credential from ``GELOMBANG_KAFKA_PASSWORD_<NAME>`` and makes the brokers' ACLs for these
principals exactly the ones below: missing ones are created, others for them deleted. In
Kubernetes Strimzi's User Operator does the same from the ``KafkaUser`` objects in
``deploy/k8s/kafka-users.yaml`` (``tests/unit/test_kafka_access.py`` checks they agree).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
)
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from gelombang.command_line import ensure_command
from gelombang.events import (
    REGISTRATIONS_ACCEPTED,
    REGISTRATIONS_CONTACT_CONFIRMED,
    REGISTRATIONS_PROGRESS,
    REGISTRATIONS_REJECTED,
    REGISTRATIONS_SUBMITTED,
    REGISTRATIONS_VERIFIED,
    SELECTION_DECIDED,
    STATUS_LINK_REQUESTED,
    VERIFICATION_REQUESTS,
    dead_letter_topic,
)
from gelombang.rdkafka import librdkafka_auth

READ, WRITE = "READ", "WRITE"
TOPIC, GROUP = "TOPIC", "GROUP"


@dataclass(frozen=True)
class Principal:
    name: str  # the SCRAM user; the brokers see User:<name>
    writes: tuple[str, ...]  # topics it publishes to (its outbox's topics included)
    consumes: tuple[str, ...] = ()  # topics its consumer group reads
    group: str | None = None
    # Beyond its consumed topics' dead-letter topics, which every consumer may write (and, for
    # the projector's log replay, read back: python -m services.registration replay).
    reads_dead_letters: bool = False

    @property
    def reads(self) -> tuple[str, ...]:
        parked = tuple(dead_letter_topic(t) for t in self.consumes)
        return self.consumes + (parked if self.reads_dead_letters else ())

    @property
    def all_writes(self) -> tuple[str, ...]:
        return self.writes + tuple(dead_letter_topic(t) for t in self.consumes)

    @property
    def password_variable(self) -> str:
        return f"GELOMBANG_KAFKA_PASSWORD_{self.name.upper()}"


@dataclass(frozen=True, order=True)
class Grant:
    """Allow ``principal`` ``operation`` on the literal resource ``resource_type:name``."""

    principal: str
    resource_type: str
    name: str
    operation: str


PRINCIPALS = (
    # The public sign-up API: the sign-up, the contact confirmations and new-code and
    # status-link requests. Nothing it reads from Kafka.
    Principal(
        "registration",
        writes=(
            REGISTRATIONS_SUBMITTED,
            REGISTRATIONS_CONTACT_CONFIRMED,
            VERIFICATION_REQUESTS,
            STATUS_LINK_REQUESTED,
        ),
    ),
    # The posko officers' lane submits sign-ups the same way, and nothing else.
    Principal("assisted", writes=(REGISTRATIONS_SUBMITTED,)),
    # The decider and read model (services.registration.worker): its outbox publishes the
    # acceptance and a released NIK's resubmission.
    Principal(
        "projector",
        writes=(REGISTRATIONS_ACCEPTED, REGISTRATIONS_SUBMITTED),
        consumes=(
            REGISTRATIONS_SUBMITTED,
            REGISTRATIONS_PROGRESS,
            REGISTRATIONS_VERIFIED,
            REGISTRATIONS_REJECTED,
            SELECTION_DECIDED,
        ),
        group="registration-projector",
        reads_dead_letters=True,
    ),
    # Contact and NIK checks: the only one that may say a registration is verified or rejected.
    Principal(
        "verification",
        writes=(REGISTRATIONS_PROGRESS, REGISTRATIONS_VERIFIED, REGISTRATIONS_REJECTED),
        consumes=(
            REGISTRATIONS_ACCEPTED,
            REGISTRATIONS_CONTACT_CONFIRMED,
            VERIFICATION_REQUESTS,
            SELECTION_DECIDED,
            STATUS_LINK_REQUESTED,
        ),
        group="verification",
    ),
    # The selection worker: the eligible pool from verified registrations, and the decisions.
    Principal(
        "selection",
        writes=(SELECTION_DECIDED,),
        consumes=(REGISTRATIONS_VERIFIED,),
        group="selection-pool",
    ),
)


def grants(principals: tuple[Principal, ...] = PRINCIPALS) -> list[Grant]:
    """Every ACL the principals get (READ and WRITE imply DESCRIBE on the same resource)."""
    out: set[Grant] = set()
    for p in principals:
        user = f"User:{p.name}"
        out.update(Grant(user, TOPIC, topic, WRITE) for topic in p.all_writes)
        out.update(Grant(user, TOPIC, topic, READ) for topic in p.reads)
        if p.group is not None:
            out.add(Grant(user, GROUP, p.group, READ))
    return sorted(out)


def passwords(env: Mapping[str, str], principals: tuple[Principal, ...]) -> dict[str, str]:
    missing = [p.password_variable for p in principals if not env.get(p.password_variable)]
    if missing:
        raise ValueError(f"no SCRAM password in {', '.join(missing)}")
    return {p.name: env[p.password_variable] for p in principals}


def ensure(admin_config: dict[str, Any], secrets: Mapping[str, str], timeout_s: float) -> str:
    """Store the principals' credentials and make their ACLs exactly ``grants()``; returns a
    summary line. ``admin_config``: librdkafka settings of a super user's client."""
    admin = AdminClient(admin_config)
    # Upserted on every run: a password changed in the environment takes effect here.
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            name, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode()
        )
        for name, password in secrets.items()
    ]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result(timeout=timeout_s)

    def binding(g: Grant) -> AclBinding:
        return AclBinding(
            ResourceType[g.resource_type],
            g.name,
            ResourcePatternType.LITERAL,
            g.principal,
            "*",
            AclOperation[g.operation],
            AclPermissionType.ALLOW,
        )

    wanted = grants(tuple(p for p in PRINCIPALS if p.name in secrets))
    for future in admin.create_acls([binding(g) for g in wanted]).values():
        future.result(timeout=timeout_s)  # creating an ACL that exists changes nothing
    stale = []
    for name in secrets:
        # None: any resource name and any host (the stub types them as str).
        any_of_theirs = AclBindingFilter(
            ResourceType.ANY,
            None,  # type: ignore[arg-type]
            ResourcePatternType.ANY,
            f"User:{name}",
            None,  # type: ignore[arg-type]
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        found = admin.describe_acls(any_of_theirs).result(timeout=timeout_s)
        known = {binding(g) for g in wanted}
        stale += [acl for acl in found if acl not in known]
    if stale:
        exactly = [
            AclBindingFilter(
                acl.restype,
                acl.name,
                acl.resource_pattern_type,
                acl.principal,
                acl.host,
                acl.operation,
                acl.permission_type,
            )
            for acl in stale
        ]
        for future in admin.delete_acls(exactly).values():
            future.result(timeout=timeout_s)
    return f"{len(secrets)} principals, {len(wanted)} ACLs, {len(stale)} stale ACLs removed"


def main(argv: list[str] | None = None) -> int:
    settings, timeout_s = ensure_command(__doc__, argv, 60.0)
    try:
        secrets = passwords(os.environ, PRINCIPALS)
        config: dict[str, Any] = {
            "bootstrap.servers": settings.kafka_bootstrap,
            **librdkafka_auth(settings.kafka_auth),
        }
        summary = ensure(config, secrets, timeout_s)
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"  kafka access: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
