"""Who may do what on Kafka (gelombang.kafka_access): the model agrees with what each service's
code consumes and publishes, no one but its owner can forge a verification or a decision, and
the local stack gives each process its own principal."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from deploy.local.apps import app_table
from deploy.local.layout import KAFKA_PRINCIPALS
from gelombang.events import (
    REGISTRATIONS_SUBMITTED,
    REGISTRATIONS_VERIFIED,
    SELECTION_DECIDED,
    dead_letter_topic,
)
from gelombang.kafka_access import GROUP, PRINCIPALS, READ, TOPIC, WRITE, Grant, grants, passwords
from gelombang.settings import REPO_ROOT
from gelombang.topics import ALL_TOPICS
from services.registration import repository as registration_repository
from services.registration import worker as projector
from services.registration.settings import ProjectorSettings
from services.selection import repository as selection_repository
from services.selection.settings import SelectionSettings
from services.verification import repository as verification_repository
from services.verification import worker as verification
from services.verification.settings import VerificationSettings

BY_NAME = {p.name: p for p in PRINCIPALS}
K8S = REPO_ROOT / "deploy" / "k8s"


def writers(topic: str) -> set[str]:
    return {g.principal for g in grants() if (g.name, g.operation) == (topic, WRITE)}


def test_each_consumer_reads_exactly_its_topics_in_its_own_group() -> None:
    consumers = {
        "projector": (projector.TOPICS, ProjectorSettings().group_id),
        "verification": (verification.TOPICS, VerificationSettings().group_id),
        "selection": ((REGISTRATIONS_VERIFIED,), SelectionSettings().group_id),
    }
    for name, (topics, group) in consumers.items():
        assert set(BY_NAME[name].consumes) == set(topics), name
        assert BY_NAME[name].group == group, name
    groups = [g for g in grants() if g.resource_type == GROUP]
    assert len({g.name for g in groups}) == len(groups), "a group shared by two principals"


def test_each_worker_may_publish_its_outbox_and_park_what_it_consumes() -> None:
    outboxes = {
        "projector": registration_repository.OUTBOX.topics,
        "verification": verification_repository.OUTBOX.topics,
        "selection": selection_repository.OUTBOX.topics,
    }
    for name, topics in outboxes.items():
        principal = BY_NAME[name]
        assert set(principal.writes) == topics, name
        assert {dead_letter_topic(t) for t in principal.consumes} <= set(principal.all_writes)


def test_only_verification_says_verified_and_only_selection_decides() -> None:
    assert writers(REGISTRATIONS_VERIFIED) == {"User:verification"}
    assert writers(SELECTION_DECIDED) == {"User:selection"}
    # Sign-ups: the two intake lanes, and the projector resubmitting a released NIK.
    assert writers(REGISTRATIONS_SUBMITTED) == {
        "User:registration",
        "User:assisted",
        "User:projector",
    }
    # The APIs read nothing from Kafka.
    readers = {g.principal for g in grants() if g.operation == READ}
    assert "User:registration" not in readers and "User:assisted" not in readers


def test_every_grant_names_a_topic_that_exists_and_nothing_else_is_granted() -> None:
    for grant in grants():
        assert grant.operation in {READ, WRITE}
        if grant.resource_type == TOPIC:
            assert grant.name in ALL_TOPICS, grant
    assert Grant("User:admin", TOPIC, REGISTRATIONS_VERIFIED, WRITE) not in grants()


def test_the_stack_has_a_password_and_a_process_for_every_principal() -> None:
    assert tuple(p.name for p in PRINCIPALS) == KAFKA_PRINCIPALS
    env = {
        "GELOMBANG_KAFKA_USERNAME": "admin",
        **{p.password_variable: f"pw-{p.name}" for p in PRINCIPALS},
    }
    apps = app_table(env)
    assert {a.kafka for a in apps if a.kafka} == set(KAFKA_PRINCIPALS)
    for app in apps:
        child = app.environment(env)
        if app.kafka is None:  # no Kafka business, no Kafka identity (not even the admin's)
            assert child["GELOMBANG_KAFKA_USERNAME"] == ""
        else:
            assert child["GELOMBANG_KAFKA_USERNAME"] == app.kafka
            assert child["GELOMBANG_KAFKA_PASSWORD"] == f"pw-{app.kafka}"
    # A stack whose Kafka was started before SASL keeps the environment as it was.
    assert apps[0].environment({"A": "1"}) == {"A": "1"}


def test_a_missing_password_is_named() -> None:
    with pytest.raises(ValueError, match="GELOMBANG_KAFKA_PASSWORD_REGISTRATION"):
        passwords({}, PRINCIPALS[:1])


def k8s(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def test_kubernetes_gives_each_service_the_same_principal_and_acls() -> None:
    docs = k8s("kafka-users.yaml")
    users = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "KafkaUser"}
    assert set(users) == set(KAFKA_PRINCIPALS)
    in_k8s = {
        Grant(f"User:{name}", acl["resource"]["type"].upper(), acl["resource"]["name"], op.upper())
        for name, spec in users.items()
        for acl in spec["authorization"]["acls"]
        for op in acl["operations"]
    }
    assert in_k8s == set(grants())
    assert {spec["authentication"]["type"] for spec in users.values()} == {"scram-sha-512"}
    # Each Deployment logs in as its own user, with the password from that user's Secret.
    deployments = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
        for name in ("registration", "projector", "assisted", "verification", "selection")
        for d in k8s(f"{name}.yaml")
        if d["kind"] == "Deployment"
    }
    module_principal = {app.module: app.kafka for app in app_table({})}
    for name, container in deployments.items():
        env = {e["name"]: e for e in container.get("env", [])}
        wanted = module_principal[container["command"][2]]
        if wanted is None:
            assert "GELOMBANG_KAFKA_USERNAME" not in env, name
            continue
        assert env["GELOMBANG_KAFKA_USERNAME"]["value"] == wanted, name
        secret = env["GELOMBANG_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert (secret["name"], secret["key"]) == (wanted, "password"), name


def test_kubernetes_kafka_takes_tls_and_scram_only() -> None:
    (kafka,) = [d for d in k8s("kafka.yaml") if d["kind"] == "Kafka"]
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert all(
        listener["tls"] and listener["authentication"]["type"] == "scram-sha-512"
        for listener in listeners
    )
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    (config,) = k8s("config.yaml")
    assert config["data"]["GELOMBANG_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["data"]["GELOMBANG_KAFKA_BOOTSTRAP"].endswith(f":{listeners[0]['port']}")
