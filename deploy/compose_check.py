"""Validate docker-compose.yml offline: there is no Docker engine on the dev and CI machines.

``.venv/bin/python deploy/compose_check.py`` (run by ``make compose-check`` inside ``make test``).

1. The Compose parser itself accepts the file: ``docker-compose config -q`` (Debian's
   docker-compose 1.29, which reads the Compose spec and needs no engine), or ``docker compose``
   when the v2 plugin is there. Installed with apt-get when neither exists and we are root.
2. Project rules, read with PyYAML (anchors and merge keys resolved):
   - every long-running service has a healthcheck; one-shot jobs (``topics``, ``migrate``) are
     what app services wait for with ``condition: service_completed_successfully``;
   - every ``service_healthy`` dependency has a healthcheck to wait for;
   - every published port binds 127.0.0.1;
   - images are the official ones we chose, with a pinned tag (never ``latest``), Kafka the same
     version as the local broker (deploy/kafka/pom.xml); built services use deploy/docker/;
   - every file the compose file or the Dockerfile refers to exists in the repository;
   - the keys and the database password have no default: compose refuses to start without
     them (checked with the parser, each left out in turn);
   - the gateway upstreams and the Prometheus targets name real services and ports.
3. ``nginx -t`` on a temporary copy of deploy/docker/nginx.conf (upstream hostnames that only
   exist inside Compose replaced by 127.0.0.1, pid and temp paths moved to the temp folder), and
   the file is what deploy/gateway/nginx.conf.template renders for compose (the one template of
   the local, compose and Kubernetes gateways; ``python -m deploy.gateway write``).
4. ``promtool check config deploy/docker/prometheus.yml`` (promtool does not resolve targets).

Exit 0 when everything passed, 1 otherwise; each check prints one line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKER_DIR = ROOT / "deploy" / "docker"
NGINX_CONF = DOCKER_DIR / "nginx.conf"
PROMETHEUS_CONF = DOCKER_DIR / "prometheus.yml"
KAFKA_POM = ROOT / "deploy" / "kafka" / "pom.xml"

# Official images only. The tag is checked separately: present, not "latest".
OFFICIAL_IMAGES = frozenset(
    {
        "apache/kafka",
        "postgres",
        "redis",
        "nginx",
        "prom/prometheus",
        # Observability: each exporter's and Grafana's own upstream image.
        "prometheuscommunity/postgres-exporter",
        "oliver006/redis_exporter",
        "nginx/nginx-prometheus-exporter",
        "grafana/grafana",
    }
)
# Images without a shell or HTTP client, so no healthcheck can run inside them. Allowed only
# for exporters: Prometheus scrapes them, and the TargetDown alert is their healthcheck.
NO_SHELL_IMAGES = frozenset({"nginx/nginx-prometheus-exporter"})
# Our own image: built from the one Dockerfile, never pulled.
OWN_IMAGE_PREFIX = "gelombang/"
OWN_DOCKERFILE = "deploy/docker/Dockerfile"
KEY_VARIABLES = ("GELOMBANG_NIK_HMAC_KEY", "GELOMBANG_PII_KEY")
# What compose must refuse to start without: no shared default may stand in for them.
REQUIRED_VARIABLES = (
    *KEY_VARIABLES,
    "GELOMBANG_DB_PASSWORD",
    "GELOMBANG_KAFKA_PASSWORD",
    *(
        f"GELOMBANG_KAFKA_PASSWORD_{name}"
        for name in ("REGISTRATION", "ASSISTED", "PROJECTOR", "VERIFICATION", "SELECTION")
    ),
)
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


class CheckFailed(Exception):
    """A rule the compose setup breaks; the message says which and where."""


@dataclass
class Report:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def run(self, name: str, check: Callable[[], str]) -> None:
        try:
            detail = check()
        except CheckFailed as exc:
            self.failed.append(name)
            print(f"FAIL {name}\n     {str(exc).replace(chr(10), chr(10) + '     ')}")
            return
        self.passed.append(name)
        print(f"ok   {name}: {detail}")


def which(binary: str) -> str | None:
    return shutil.which(binary, path=SEARCH_PATH)


def run(
    argv: list[str], cwd: Path = ROOT, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    if not COMPOSE.exists():
        raise CheckFailed(f"{COMPOSE.name} not found at {COMPOSE}")
    data = yaml.safe_load(COMPOSE.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise CheckFailed(f"{COMPOSE.name}: no services mapping")
    return data


def services_of(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """{dependency: condition}; the short list form means service_started."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return {str(name): "service_started" for name in raw}
    return {
        str(name): str((spec or {}).get("condition", "service_started"))
        for name, spec in raw.items()
    }


def one_shot_services(services: dict[str, dict[str, Any]]) -> set[str]:
    return {
        dep
        for service in services.values()
        for dep, condition in depends_on(service).items()
        if condition == "service_completed_successfully"
    }


def command_port(service: dict[str, Any]) -> int | None:
    """The HTTP port a service serves: ``--ops-port`` when it has one (its /metrics), else
    ``--port``."""
    command = service.get("command")
    for flag in ("--ops-port", "--port"):
        if isinstance(command, list) and flag in command:
            index = command.index(flag)
            if index + 1 < len(command):
                return int(command[index + 1])
    return None


# ---------------------------------------------------------------------------------------------
# 1. The Compose parser
# ---------------------------------------------------------------------------------------------


def compose_command() -> list[str]:
    if which("docker-compose") is None and which("docker") is not None:
        probe = run(["docker", "compose", "version"])
        if probe.returncode == 0:
            return ["docker", "compose"]
    if which("docker-compose") is None:
        install_docker_compose()
    binary = which("docker-compose")
    if binary is None:
        raise CheckFailed("docker-compose is not installed: apt-get install -y docker-compose")
    return [binary]


def install_docker_compose() -> None:
    if os.geteuid() != 0 or which("apt-get") is None:
        raise CheckFailed(
            "docker-compose is not installed and this is not a root apt system;"
            " install Debian's docker-compose package (or the docker compose plugin)"
        )
    print("     installing Debian's docker-compose (apt-get)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "docker-compose"]
    result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise CheckFailed(f"apt-get install docker-compose failed:\n{result.stderr[-2000:]}")


def check_compose_parser() -> str:
    command = compose_command()
    # The file has no usable defaults for its secrets; give the parser throwaway ones, the way
    # a .env file would, and check separately that without them it refuses.
    without = {k: v for k, v in os.environ.items() if k not in REQUIRED_VARIABLES}
    given = {**without, **{name: "0" * 64 for name in REQUIRED_VARIABLES}}
    result = run([*command, "-f", str(COMPOSE), "config", "-q"], env=given)
    if result.returncode != 0:
        raise CheckFailed(f"{' '.join(command)} config rejected the file:\n{result.stderr.strip()}")
    for missing in REQUIRED_VARIABLES:
        unset = {k: v for k, v in given.items() if k != missing}
        refused = run([*command, "-f", str(COMPOSE), "config", "-q"], env=unset)
        if refused.returncode == 0:
            raise CheckFailed(f"{' '.join(command)} config starts without {missing}")
    version = run([*command, "version", "--short"]).stdout.strip() or "unknown version"
    return (
        f"{' '.join(command)} {version}: `config -q` accepts the file with its secrets set "
        f"and refuses it without each of {', '.join(REQUIRED_VARIABLES)}"
    )


# ---------------------------------------------------------------------------------------------
# 2. Project rules
# ---------------------------------------------------------------------------------------------


def check_no_version_key(compose: dict[str, Any]) -> str:
    if "version" in compose:
        raise CheckFailed("top-level `version:` is obsolete in the Compose spec; remove it")
    return "Compose spec file (no version key)"


def check_healthchecks(compose: dict[str, Any]) -> str:
    services = services_of(compose)
    one_shots = one_shot_services(services)
    problems: list[str] = []
    long_running = sorted(set(services) - one_shots)
    for name in long_running:
        image = services[name].get("image")
        if isinstance(image, str) and split_image(image)[0] in NO_SHELL_IMAGES:
            continue
        health = services[name].get("healthcheck")
        if not isinstance(health, dict) or health.get("disable") or not health.get("test"):
            problems.append(f"{name}: long-running service without a healthcheck")
    for name in sorted(one_shots):
        if name not in services:
            problems.append(f"{name}: depended on but not defined")
        elif str(services[name].get("restart", "no")) != "no":
            problems.append(f'{name}: one-shot job must not restart (restart: "no")')
    for name, service in sorted(services.items()):
        for dep, condition in depends_on(service).items():
            if dep not in services:
                problems.append(f"{name}: depends on unknown service {dep}")
            elif condition == "service_healthy" and not services[dep].get("healthcheck"):
                problems.append(f"{name}: waits for {dep} to be healthy, but it has no healthcheck")
    if problems:
        raise CheckFailed("\n".join(problems))
    return f"{len(long_running)} long-running with healthchecks, one-shot: {sorted(one_shots)}"


def check_app_start_order(compose: dict[str, Any]) -> str:
    services = services_of(compose)
    one_shots = one_shot_services(services)
    problems: list[str] = []
    apps = sorted(n for n, s in services.items() if "build" in s and n not in one_shots)
    for name in apps:
        deps = depends_on(services[name])
        for job in sorted(one_shots):
            if deps.get(job) != "service_completed_successfully":
                problems.append(f"{name}: must wait for {job} (service_completed_successfully)")
    if not apps:
        problems.append("no application services (services with build:) found")
    if problems:
        raise CheckFailed("\n".join(problems))
    return f"{apps} start after {sorted(one_shots)} completed"


def published_ports(service: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(as written, host ip or None when the entry binds every interface)."""
    out: list[tuple[str, str | None]] = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            host_ip = entry.get("host_ip")
            out.append((str(entry), str(host_ip) if host_ip else None))
            continue
        text = str(entry)
        # "ip:host:container", "host:container", "container"; an IPv6 host ip is in brackets.
        match = re.fullmatch(r"(\[[^\]]+\]|[0-9.]+):([^:]+):(.+)", text)
        out.append((text, match.group(1) if match else None))
    return out


def check_ports(compose: dict[str, Any]) -> str:
    problems: list[str] = []
    count = 0
    for name, service in sorted(services_of(compose).items()):
        for text, host_ip in published_ports(service):
            count += 1
            if host_ip != "127.0.0.1":
                problems.append(f'{name}: port {text!r} must bind 127.0.0.1 ("127.0.0.1:H:C")')
    if problems:
        raise CheckFailed("\n".join(problems))
    return f"{count} published ports, all on 127.0.0.1"


def kafka_version_in_pom() -> str | None:
    if not KAFKA_POM.exists():
        return None
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", KAFKA_POM.read_text())
    return match.group(1).strip() if match else None


def split_image(image: str) -> tuple[str, str | None]:
    if "@" in image:
        return image.split("@", 1)[0], "digest"
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, None
    return name, tag


def check_images(compose: dict[str, Any]) -> str:
    problems: list[str] = []
    seen: list[str] = []
    kafka_version = kafka_version_in_pom()
    for name, service in sorted(services_of(compose).items()):
        image = service.get("image")
        build = service.get("build")
        if build is not None:
            dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
            if dockerfile != OWN_DOCKERFILE:
                problems.append(f"{name}: must build from {OWN_DOCKERFILE}, not {dockerfile!r}")
            if not isinstance(image, str) or not image.startswith(OWN_IMAGE_PREFIX):
                problems.append(f"{name}: built image must be named {OWN_IMAGE_PREFIX}...")
            continue
        if not isinstance(image, str):
            problems.append(f"{name}: neither image nor build")
            continue
        repo, tag = split_image(image)
        seen.append(image)
        if repo not in OFFICIAL_IMAGES:
            problems.append(f"{name}: {image} is not one of {sorted(OFFICIAL_IMAGES)}")
        if tag is None or tag == "latest":
            problems.append(f"{name}: {image} must have a pinned tag (not latest)")
        if repo == "apache/kafka" and kafka_version and tag != kafka_version:
            problems.append(
                f"{name}: {image} differs from the local broker's Kafka {kafka_version}"
                " (deploy/kafka/pom.xml)"
            )
    if problems:
        raise CheckFailed("\n".join(problems))
    return ", ".join(sorted(set(seen))) + f" + {OWN_IMAGE_PREFIX}* built from {OWN_DOCKERFILE}"


def dockerfile_sources(dockerfile: Path) -> list[str]:
    sources: list[str] = []
    for line in dockerfile.read_text().splitlines():
        parts = line.split()
        if parts and parts[0].upper() in {"COPY", "ADD"}:
            args = [p for p in parts[1:] if not p.startswith("--")]
            sources.extend(args[:-1])
    return sources


def check_referenced_files(compose: dict[str, Any]) -> str:
    problems: list[str] = []
    checked: set[str] = set()
    for name, service in sorted(services_of(compose).items()):
        build = service.get("build")
        if isinstance(build, dict):
            context = ROOT / str(build.get("context", "."))
            dockerfile = context / str(build.get("dockerfile", "Dockerfile"))
            for path in (context, dockerfile):
                checked.add(str(path.relative_to(ROOT)) or ".")
                if not path.exists():
                    problems.append(f"{name}: build path {path} does not exist")
            if dockerfile.exists():
                for source in dockerfile_sources(dockerfile):
                    checked.add(source)
                    if not (context / source).exists():
                        problems.append(f"{name}: Dockerfile copies {source}, which is missing")
        for volume in service.get("volumes") or []:
            raw = volume.get("source") if isinstance(volume, dict) else str(volume).split(":")[0]
            source = str(raw or "")
            if source.startswith((".", "/")):
                checked.add(source)
                # A missing bind source would be created by Docker as an empty root-owned dir.
                if not (ROOT / source).exists():
                    problems.append(f"{name}: bind mount source {source} does not exist")
        env_files = service.get("env_file") or []
        for env_file in [env_files] if isinstance(env_files, str) else env_files:
            checked.add(str(env_file))
            if not (ROOT / str(env_file)).exists():
                problems.append(f"{name}: env_file {env_file} does not exist")
    if problems:
        raise CheckFailed("\n".join(problems))
    return ", ".join(sorted(checked))


def check_key_defaults(compose: dict[str, Any]) -> str:
    sys.path.insert(0, str(ROOT / "libs"))
    from gelombang.settings import PLACEHOLDER_KEYS

    problems: list[str] = []
    count = 0
    for name, service in sorted(services_of(compose).items()):
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(str(e).split("=", 1) for e in environment if "=" in str(e))
        for variable in KEY_VARIABLES:
            if variable not in environment:
                continue
            count += 1
            value = str(environment[variable])
            match = re.fullmatch(r"\$\{" + variable + r"(?::?([-?]))(.*)\}", value)
            if match is None:
                problems.append(
                    f"{name}: {variable} must come from the environment (${{{variable}...}})"
                )
            elif match.group(1) == "-":
                leaked = match.group(2) not in PLACEHOLDER_KEYS
                problems.append(
                    f"{name}: {variable} has a default; it must be required "
                    f"(${{{variable}:?...}}) so that compose refuses to start without it"
                    + ("; and a real key must never be committed" if leaked else "")
                )
    if problems:
        raise CheckFailed("\n".join(problems))
    return f"{count} key variables required from the environment, none with a default"


def check_kafka_access(compose: dict[str, Any]) -> str:
    """SASL/SCRAM and ACLs on the broker; each service logs in as its own principal (the one the
    local stack gives the same module, deploy/local/apps.py), with its password required from
    the environment; the kafka-access job knows every principal's password."""
    sys.path.insert(0, str(ROOT / "libs"))
    sys.path.insert(0, str(ROOT))
    from deploy.local.apps import app_table
    from gelombang.kafka_access import PRINCIPALS

    principal_of = {app.module: app.kafka for app in app_table({})}
    services = services_of(compose)
    problems: list[str] = []
    script = DOCKER_DIR / "kafka-start.sh"
    lines = script.read_text().splitlines()
    props = dict(line.split("=", 1) for line in lines if re.match(r"[a-z.]+=", line))
    protocols = dict(item.split(":") for item in props["listener.security.protocol.map"].split(","))
    for listener, protocol in protocols.items():
        if listener != "CONTROLLER" and not protocol.startswith("SASL_"):
            problems.append(f"kafka-start.sh: listener {listener} is {protocol}, not SASL")
    if "CONTROLLER://localhost:" not in props["listeners"]:
        problems.append("kafka-start.sh: the plaintext CONTROLLER listener must bind localhost")
    everyone = props.get("allow.everyone.if.no.acl.found") != "false"
    if everyone or "authorizer.class.name" not in props:
        problems.append("kafka-start.sh: no authorizer, or everyone allowed without an ACL")
    logged_in = 0
    for name, service in sorted(services.items()):
        command = service.get("command")
        module = command[2] if isinstance(command, list) and command[:2] == ["python", "-m"] else ""
        environment = service.get("environment") or {}
        user = environment.get("GELOMBANG_KAFKA_USERNAME")
        wanted = principal_of.get(module)
        if name in ("topics", "kafka-access"):
            wanted = "admin"
        if user != wanted:
            problems.append(f"{name}: Kafka principal {user!r}, expected {wanted!r}")
            continue
        if wanted is None:
            continue
        logged_in += 1
        variable = "GELOMBANG_KAFKA_PASSWORD" + ("" if wanted == "admin" else f"_{wanted.upper()}")
        if not str(environment.get("GELOMBANG_KAFKA_PASSWORD", "")).startswith(f"${{{variable}:?"):
            problems.append(f"{name}: GELOMBANG_KAFKA_PASSWORD must be ${{{variable}:?...}}")
    access = (services.get("kafka-access") or {}).get("environment") or {}
    for principal in PRINCIPALS:
        if not str(access.get(principal.password_variable, "")).startswith("${"):
            problems.append(f"kafka-access: no {principal.password_variable}")
    if problems:
        raise CheckFailed("\n".join(problems))
    sasl = sorted(set(protocols) - {"CONTROLLER"})
    return f"SASL on {sasl}, {logged_in} services each log in as their own principal"


def nginx_upstream_servers(conf: str) -> list[tuple[str, int]]:
    servers: list[tuple[str, int]] = []
    for block in re.findall(r"upstream\s+\S+\s*\{(.*?)\}", conf, flags=re.S):
        for host, port in re.findall(r"^\s*server\s+([^\s:;]+):(\d+)", block, flags=re.M):
            servers.append((host, int(port)))
    return servers


def check_service_addresses(compose: dict[str, Any]) -> str:
    services = services_of(compose)
    problems: list[str] = []
    found: list[str] = []

    def expect(where: str, host: str, port: int) -> None:
        found.append(f"{host}:{port}")
        if host not in services:
            problems.append(f"{where}: {host} is not a compose service")
            return
        listening = command_port(services[host])
        if listening is not None and listening != port:
            problems.append(f"{where}: {host}:{port}, but {host} listens on {listening}")

    if NGINX_CONF.exists():
        for host, port in nginx_upstream_servers(NGINX_CONF.read_text()):
            expect("nginx upstream", host, port)
    prometheus = yaml.safe_load(PROMETHEUS_CONF.read_text()) if PROMETHEUS_CONF.exists() else {}
    for job in (prometheus or {}).get("scrape_configs") or []:
        where = f"prometheus job {job.get('job_name')}"
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                target_host, _, target_port = str(target).rpartition(":")
                if target_host not in {"localhost", "127.0.0.1"}:
                    expect(where, target_host, int(target_port))
        for dns in job.get("dns_sd_configs") or []:
            for dns_name in dns.get("names") or []:
                expect(where, str(dns_name), int(dns.get("port", 0)))
    if problems:
        raise CheckFailed("\n".join(problems))
    return "gateway upstreams and scrape targets exist: " + ", ".join(sorted(set(found)))


# ---------------------------------------------------------------------------------------------
# 3. nginx
# ---------------------------------------------------------------------------------------------


def nginx_test_copy(conf: str, tmp: Path) -> str:
    """The config with what only exists inside the container pointed at the temp folder."""
    # Compose service names resolve only on the Compose network; nginx -t resolves upstreams.
    conf = re.sub(
        r"^(\s*server\s+)(?!\d)[A-Za-z0-9_.-]+(:\d+)",
        r"\g<1>127.0.0.1\g<2>",
        conf,
        flags=re.M,
    )
    conf = re.sub(r"^\s*pid\s+[^;]+;", f"pid {tmp}/nginx.pid;", conf, flags=re.M)
    # Scratch files and the waiting room's cache: the image's folder does not exist here.
    conf = re.sub(
        r"^(\s*(?:\w+_temp_path|proxy_cache_path)\s+)/var/cache/nginx/",
        rf"\g<1>{tmp}/",
        conf,
        flags=re.M,
    )
    return conf


def tool_for(config: Path, binary: str, package: str) -> str:
    """The checking tool's path, once it is installed and the file it is to check exists."""
    tool = which(binary)
    if tool is None:
        raise CheckFailed(f"{binary} is not installed (apt-get install -y {package})")
    if not config.exists():
        raise CheckFailed(f"{config.relative_to(ROOT)} does not exist")
    return tool


def check_nginx_config() -> str:
    nginx = tool_for(NGINX_CONF, "nginx", "nginx")
    with tempfile.TemporaryDirectory(prefix="gelombang-nginx-") as tmp_dir:
        tmp = Path(tmp_dir)
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_test_copy(NGINX_CONF.read_text(), tmp))
        result = run(
            [nginx, "-t", "-q", "-p", f"{tmp}/", "-e", str(tmp / "error.log"), "-c", str(conf)]
        )
    if result.returncode != 0:
        raise CheckFailed(f"nginx -t rejected deploy/docker/nginx.conf:\n{result.stderr.strip()}")
    version = run([nginx, "-v"]).stderr.strip().removeprefix("nginx version: ")
    return f"nginx -t ({version}) accepts deploy/docker/nginx.conf (upstream hosts -> 127.0.0.1)"


def check_nginx_rendered() -> str:
    # The renderer lives beside this file (stdlib only); the repository root is on sys.path
    # when this runs as a script from it.
    sys.path.insert(0, str(ROOT))
    from deploy.gateway.render import COMPOSE_CONF, compose_file

    if COMPOSE_CONF != NGINX_CONF:
        raise CheckFailed(f"the renderer writes {COMPOSE_CONF}, compose mounts {NGINX_CONF}")
    if NGINX_CONF.read_text() != compose_file():
        raise CheckFailed(
            "deploy/docker/nginx.conf is not what deploy/gateway/nginx.conf.template renders for"
            " compose: run .venv/bin/python -m deploy.gateway write"
        )
    return "deploy/docker/nginx.conf is the one gateway template rendered for compose"


# ---------------------------------------------------------------------------------------------
# 4. Prometheus
# ---------------------------------------------------------------------------------------------


def check_prometheus_config() -> str:
    promtool = tool_for(PROMETHEUS_CONF, "promtool", "prometheus")
    result = run([promtool, "check", "config", str(PROMETHEUS_CONF)])
    if result.returncode != 0:
        raise CheckFailed(
            f"promtool check config failed:\n{(result.stdout + result.stderr).strip()}"
        )
    return "promtool check config accepts deploy/docker/prometheus.yml"


# ---------------------------------------------------------------------------------------------


def main() -> int:
    print(f"compose check: {COMPOSE.name} (offline, no Docker engine needed)")
    report = Report()
    try:
        compose = load_compose()
    except (CheckFailed, yaml.YAMLError) as exc:
        print(f"FAIL load {COMPOSE.name}\n     {exc}")
        return 1
    report.run("compose parser", check_compose_parser)
    report.run("spec format", lambda: check_no_version_key(compose))
    report.run("healthchecks", lambda: check_healthchecks(compose))
    report.run("start order", lambda: check_app_start_order(compose))
    report.run("ports on loopback", lambda: check_ports(compose))
    report.run("images", lambda: check_images(compose))
    report.run("referenced files", lambda: check_referenced_files(compose))
    report.run("secret defaults", lambda: check_key_defaults(compose))
    report.run("kafka principals", lambda: check_kafka_access(compose))
    report.run("service addresses", lambda: check_service_addresses(compose))
    report.run("nginx -t", check_nginx_config)
    report.run("gateway = the one template", check_nginx_rendered)
    report.run("promtool", check_prometheus_config)
    total = len(report.passed) + len(report.failed)
    if report.failed:
        failed = ", ".join(report.failed)
        print(f"compose check FAILED: {len(report.failed)} of {total} checks ({failed})")
        return 1
    print(f"compose check passed: {total} checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
