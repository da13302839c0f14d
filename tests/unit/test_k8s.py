"""The Kubernetes manifests in deploy/k8s, checked offline: every object valid against the API
schemas (strict, so a misspelt field fails), the custom resources against the vendored schemas
in deploy/k8s/schemas, and the properties the deployment relies on."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

# Neither ships type information; both are used through a couple of calls only.
import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from gelombang.settings import REPO_ROOT
from gelombang.topics import ALL_TOPICS
from services.registration.settings import ProjectorSettings
from services.selection.settings import SelectionSettings
from services.verification.settings import VerificationSettings

K8S = REPO_ROOT / "deploy" / "k8s"
# The oldest Kubernetes we support: the preStop sleep action is on by default from 1.30.
KUBERNETES_VERSION = "1.32.0"
CUSTOM = {
    (s["properties"]["apiVersion"]["const"], s["properties"]["kind"]["const"]): s
    for s in (json.loads(p.read_text()) for p in (K8S / "schemas").glob("*.json"))
}

Doc = dict[str, Any]


def render_with_python() -> list[Doc]:
    """What `kustomize build` does with the features this kustomization uses: the resources
    in order, the namespace and the common labels. Used when kubectl is not installed."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "labels", "resources"}
    labels: dict[str, str] = {}
    for entry in kustomization.get("labels", []):
        labels.update(entry["pairs"])
    docs: list[Doc] = []
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / resource).read_text()):
            if doc is None:
                continue
            metadata = doc.setdefault("metadata", {})
            if doc["kind"] != "Namespace":
                metadata["namespace"] = kustomization["namespace"]
            metadata.setdefault("labels", {}).update(labels)
            docs.append(doc)
    return docs


def render() -> list[Doc]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return render_with_python()
    built = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=True
    )
    return [d for d in yaml.safe_load_all(built.stdout) if d is not None]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    return render()


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_every_object_is_valid_against_its_schema(docs: list[Doc]) -> None:
    problems = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        schema = CUSTOM.get((doc["apiVersion"], doc["kind"]))
        try:
            if schema is not None:
                jsonschema.validate(doc, schema)
            else:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            problems.append(f"{where}: {exc}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where}: no schema (vendor one in deploy/k8s/schemas)")
    assert problems == []
    assert all(
        d["metadata"].get("namespace") == "gelombang" for d in docs if d["kind"] != "Namespace"
    )


def test_the_python_renderer_agrees_with_kustomize(docs: list[Doc]) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not installed: the Python renderer was the one used")

    def key(d: Doc) -> tuple[str, str]:
        return (d["kind"], d["metadata"]["name"])

    assert sorted(map(key, render_with_python())) == sorted(map(key, docs))


def test_every_process_has_probes_graceful_shutdown_and_a_disruption_budget(
    docs: list[Doc],
) -> None:
    deployments = of_kind(docs, "Deployment")
    budgets = of_kind(docs, "PodDisruptionBudget")
    assert set(deployments) == {
        "registration",
        "assisted",
        "selection",
        "selection-worker",
        "projector",
        "verification",
    }
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        assert "preStop" in container["lifecycle"], name
        assert pod["terminationGracePeriodSeconds"] >= 30, name
        assert container["resources"]["limits"]["memory"], name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        budget = budgets[name]["spec"]
        assert budget["selector"]["matchLabels"].items() <= labels.items(), name
        assert budget.get("maxUnavailable") == 1, name
        # Secrets come from a Secret that is never in the repository.
        sources = {next(iter(s)): next(iter(s.values()))["name"] for s in container["envFrom"]}
        assert sources == {"configMapRef": "gelombang-config", "secretRef": "gelombang-secrets"}
    assert not of_kind(docs, "Secret"), "secrets must not be committed"


def test_the_api_scales_on_cpu_and_the_consumers_on_their_own_consumer_lag(
    docs: list[Doc],
) -> None:
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "registration"
    assert hpa["spec"]["minReplicas"] >= 2
    assert "replicas" not in of_kind(docs, "Deployment")["registration"]["spec"]

    scaled = of_kind(docs, "ScaledObject")
    groups = {
        "projector": ProjectorSettings().group_id,
        "verification": VerificationSettings().group_id,
        "selection-worker": SelectionSettings().group_id,
    }
    assert set(scaled) == set(groups)
    partitions = min(t["spec"]["partitions"] for t in of_kind(docs, "KafkaTopic").values())
    for name, group in groups.items():
        spec = scaled[name]["spec"]
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == group, name
        assert spec["scaleTargetRef"]["name"] == name
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions, name
        # KEDA owns the replica count of what it scales.
        assert "replicas" not in of_kind(docs, "Deployment")[name]["spec"], name


def test_kafka_keeps_a_202_through_the_loss_of_one_broker(docs: list[Doc]) -> None:
    (kafka,) = of_kind(docs, "Kafka").values()
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["unclean.leader.election.enable"] is False
    assert config["auto.create.topics.enable"] is False
    (pool,) = of_kind(docs, "KafkaNodePool").values()
    assert pool["spec"]["replicas"] >= 3
    topics = {t["spec"]["topicName"]: t["spec"] for t in of_kind(docs, "KafkaTopic").values()}
    assert set(topics) == set(ALL_TOPICS)
    for name, spec in topics.items():
        assert spec["replicas"] == 3, name
        assert spec["config"]["min.insync.replicas"] == 2, name


def test_the_ingress_routes_each_lane_to_its_service_with_its_body_limit(
    docs: list[Doc],
) -> None:
    services = of_kind(docs, "Service")
    routes = {}
    for ingress in of_kind(docs, "Ingress").values():
        annotations = ingress["metadata"]["annotations"]
        assert "nginx.ingress.kubernetes.io/limit-rps" in annotations
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]["name"]
                assert backend in services
                routes[path["path"]] = (
                    backend,
                    annotations["nginx.ingress.kubernetes.io/proxy-body-size"],
                )
    assert routes == {
        "/api/": ("registration", "16k"),
        "/api/v1/assisted/": ("assisted", "6m"),
        "/api/v1/admin/": ("selection", "64m"),
    }


def test_manifests_are_in_the_kustomization(docs: list[Doc]) -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk, "a manifest is not applied (or is missing)"


def test_only_what_each_process_needs_can_reach_it_or_be_reached(docs: list[Doc]) -> None:
    policies = of_kind(docs, "NetworkPolicy")
    processes = {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for d in (*of_kind(docs, "Deployment").values(), *of_kind(docs, "Job").values())
    }

    def selects(policy: Doc) -> set[str]:
        selector = policy["spec"]["podSelector"]
        if not selector:
            return {"*"}
        if "matchLabels" in selector:
            return {selector["matchLabels"]["app.kubernetes.io/name"]}
        (expression,) = selector["matchExpressions"]
        assert expression["operator"] == "In"
        return set(expression["values"])

    # Nothing comes in unless a policy says so.
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny
    # Every process's egress is limited, and only verification goes outside the cluster's
    # stores (registry, SMS, SMTP).
    egress = {name: p for name, p in policies.items() if "Egress" in p["spec"]["policyTypes"]}
    assert set().union(*(selects(p) for p in egress.values())) == processes
    outside = [
        name
        for name, policy in egress.items()
        for rule in policy["spec"]["egress"]
        if any(port["port"] == 443 for port in rule.get("ports", []))
    ]
    assert outside == ["verification-outside"]
    assert selects(policies["verification-outside"]) == {"verification"}
    # The APIs are reached by the ingress controller only (the one trusted proxy).
    (rule,) = policies["apis-from-ingress"]["spec"]["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    assert selects(policies["apis-from-ingress"]) == {"registration", "assisted", "selection"}
    # Kafka: only the processes that use it, and KEDA reading lag.
    (kafka,) = of_kind(docs, "Kafka").values()
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    peers = listener["networkPolicyPeers"]
    (expression,) = peers[0]["podSelector"]["matchExpressions"]
    assert set(expression["values"]) == processes - {"migrate"}
    assert peers[1] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}
    }
