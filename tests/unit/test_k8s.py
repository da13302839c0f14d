"""The Kubernetes manifests in deploy/k8s, checked offline: every object valid against the API
schemas (strict, so a misspelt field fails), the custom resources against the vendored schemas
in deploy/k8s/schemas, and the properties the deployment relies on."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

# Neither ships type information; both are used through a couple of calls only.
import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from deploy.gateway.render import (
    CONFIG_HASH_ANNOTATION,
    K8S_CONFIGMAP_NAME,
    K8S_GATEWAY_REPLICAS,
    K8S_INTAKE_PER_S,
    config_hash,
    k8s_target,
)
from deploy.gateway.render import render as render_gateway
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
        "gateway",
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
        # nginx has nothing to wait for: ready is up (an API without pods is its 503).
        ready = "/healthz" if name == "gateway" else "/readyz"
        assert container["readinessProbe"]["httpGet"]["path"] == ready, name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        assert "preStop" in container["lifecycle"], name
        assert pod["terminationGracePeriodSeconds"] >= 30, name
        assert container["resources"]["limits"]["memory"], name
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        budget = budgets[name]["spec"]
        assert budget["selector"]["matchLabels"].items() <= labels.items(), name
        assert budget.get("maxUnavailable") == 1, name
        if name == "gateway":
            assert "envFrom" not in container, "the gateway needs no setting and no secret"
            continue
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


def test_the_ingress_sends_everything_to_the_gateway(docs: list[Doc]) -> None:
    # The page, the intake ceiling, the per-address limits, each lane's body limit and the
    # mail-scanner guard are the gateway's (tests/unit/test_gateway_config.py): the ingress ends
    # TLS and lets the largest body through, and sends each address to one gateway pod.
    (ingress,) = of_kind(docs, "Ingress").values()
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "64m"
    assert annotations["nginx.ingress.kubernetes.io/upstream-hash-by"] == "$remote_addr"
    assert ingress["spec"]["tls"], "TLS ends at the ingress"
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/", "Prefix")
    backend = path["backend"]["service"]
    gateway = of_kind(docs, "Service")["gateway"]
    assert backend["name"] == "gateway"
    assert backend["port"]["name"] in {p["name"] for p in gateway["spec"]["ports"]}


def test_the_gateway_runs_the_rendered_config_and_rolls_when_it_changes(docs: list[Doc]) -> None:
    deployment = of_kind(docs, "Deployment")["gateway"]
    config = of_kind(docs, "ConfigMap")[K8S_CONFIGMAP_NAME]
    conf = config["data"]["nginx.conf"]
    assert conf == render_gateway(k8s_target()), "run: .venv/bin/python -m deploy.gateway write"
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"][CONFIG_HASH_ANNOTATION] == config_hash(conf)
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    (container,) = template["spec"]["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    config_mount = mounts["/etc/nginx/nginx.conf"]
    assert volumes[config_mount["name"]]["configMap"]["name"] == K8S_CONFIGMAP_NAME
    assert config_mount["subPath"] == "nginx.conf"
    # A read-only root: every path nginx writes is on the scratch volume.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    scratch = next(path for path, m in mounts.items() if "emptyDir" in volumes[m["name"]])
    written = re.findall(r"^\s*(?:pid|\w+_temp_path|proxy_cache_path)\s+(\S+?);?$", conf, re.M)
    assert written and all(p.startswith(scratch + "/") for p in written), written
    (port,) = container["ports"]
    assert re.search(rf"^\s*listen {port['containerPort']};$", conf, re.M)
    # The intake ceiling is per pod: the pods together take the configured whole.
    assert deployment["spec"]["replicas"] == K8S_GATEWAY_REPLICAS
    autoscaled = of_kind(docs, "HorizontalPodAutoscaler").values()
    assert "gateway" not in {h["spec"]["scaleTargetRef"]["name"] for h in autoscaled}
    per_pod = re.search(r"zone=intake:\S+ rate=(\d+)r/s;", conf)
    assert per_pod is not None
    assert int(per_pod.group(1)) * K8S_GATEWAY_REPLICAS >= K8S_INTAKE_PER_S


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
    # The ingress controller reaches the gateway only, and the APIs are reached by the gateway
    # only (the one proxy they trust for the client address).
    ingress_controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    }
    from_controller = [
        name
        for name, policy in policies.items()
        for rule in policy["spec"].get("ingress", [])
        if ingress_controller in rule["from"]
    ]
    assert from_controller == ["gateway-from-ingress"]
    assert selects(policies["gateway-from-ingress"]) == {"gateway"}
    (rule,) = policies["apis-from-gateway"]["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}]
    assert selects(policies["apis-from-gateway"]) == {"registration", "assisted", "selection"}
    # The gateway itself reaches the cluster DNS and those three APIs' ports, nothing else.
    (dns, apis) = policies["gateway-egress"]["spec"]["egress"]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    (expression,) = apis["to"][0]["podSelector"]["matchExpressions"]
    assert set(expression["values"]) == {"registration", "assisted", "selection"}
    container_ports = {
        name: d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
        for name, d in of_kind(docs, "Deployment").items()
    }
    assert {p["port"] for p in apis["ports"]} == {
        container_ports[name] for name in ("registration", "assisted", "selection")
    }
    # Kafka: only the processes that use it, and KEDA reading lag.
    (kafka,) = of_kind(docs, "Kafka").values()
    (listener,) = kafka["spec"]["kafka"]["listeners"]
    peers = listener["networkPolicyPeers"]
    (expression,) = peers[0]["podSelector"]["matchExpressions"]
    assert set(expression["values"]) == processes - {"migrate", "gateway"}
    assert peers[1] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}
    }
