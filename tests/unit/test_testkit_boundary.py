"""The product (the wheel) and the test kit (testkit/) stay apart: the wheel ships no kit module,
nothing shipped imports the kit, and every process the stacks start is still found where it is
started from (the kit's simulators from the compose image that has the kit)."""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from deploy.local.apps import app_table

ROOT = Path(__file__).resolve().parents[2]
KIT = "testkit"


def wheel_packages() -> list[Path]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    return [ROOT / package for package in packages]


def shipped_files() -> Iterator[tuple[str, Path]]:
    """(dotted module name, file) of every Python module in the wheel."""
    for package in wheel_packages():
        for path in sorted(package.rglob("*.py")):
            parts = path.relative_to(package.parent).with_suffix("").parts
            yield ".".join(p for p in parts if p != "__init__"), path


def names_the_kit(name: str) -> bool:
    return name == KIT or name.startswith(f"{KIT}.")


def kit_references(tree: ast.AST) -> Iterator[str]:
    """Imports of the kit, and module names of it in strings (``-m``, ``import_module``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        yield from (name for name in names if names_the_kit(name))


def test_the_wheel_leaves_the_test_kit_out() -> None:
    packages = wheel_packages()
    assert packages, "pyproject names no wheel packages"
    assert all(p.is_dir() for p in packages)
    assert ROOT / KIT not in packages
    kit_names = {p.stem for p in (ROOT / KIT).iterdir() if p.stem != "__init__"} - {"__pycache__"}
    assert {"population", "simulators", "posko_client"} <= kit_names
    shipped = {name for name, _ in shipped_files()}
    assert not any(names_the_kit(name) for name in shipped)
    # A kit module copied back into the product would ship again under another root.
    copied = sorted(name for name in shipped if set(name.split(".")) & kit_names)
    assert copied == []


def test_nothing_shipped_imports_the_test_kit() -> None:
    offenders = {
        name: found
        for name, path in shipped_files()
        if (found := sorted(set(kit_references(ast.parse(path.read_text(), str(path))))))
    }
    assert offenders == {}


def test_the_boundary_check_sees_an_import_of_the_kit() -> None:
    source = (
        "import testkit.population\n"
        "from testkit.simulators import faults\n"
        "from . import testkit\n"
        "import testkitchen\n"
        "MODULE = 'testkit.simulators.sms_gateway'\n"
    )
    assert list(kit_references(ast.parse(source))) == [
        "testkit.population",
        "testkit.simulators",
        "testkit.simulators.sms_gateway",
    ]


def compose_services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services: dict[str, Any] = compose["services"]
    return services


def module_run(command: list[str]) -> str | None:
    if len(command) > 2 and command[0] == "python" and command[1] == "-m":
        return command[2]
    return None


def test_every_module_the_local_stack_starts_is_found() -> None:
    modules = sorted({app.module for app in app_table({})})
    assert any(names_the_kit(m) for m in modules), "the local stack starts no simulator"
    assert [m for m in modules if importlib.util.find_spec(m) is None] == []


def dockerfile_stages() -> list[tuple[list[str], list[list[str]]]]:
    """(FROM line, instructions) of each stage of the one Dockerfile, in order."""
    stages: list[tuple[list[str], list[list[str]]]] = []
    for line in (ROOT / "deploy/docker/Dockerfile").read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0].upper() == "FROM":
            stages.append((words, []))
        elif stages:
            stages[-1][1].append(words)
    return stages


def test_compose_runs_the_kit_only_from_the_image_that_has_it() -> None:
    stages = dockerfile_stages()
    kit_stages = [s for s in stages if s[0][-2:] == ["AS", KIT]]
    assert len(kit_stages) == 1
    assert ["COPY", KIT, f"./{KIT}"] in kit_stages[0][1]
    # Only that stage has the kit; the last one, built from another, is what a plain build
    # (compose's product services, Kubernetes) gets.
    others = [s for s in stages if s not in kit_stages]
    assert [step for _, steps in others for step in steps if KIT in step] == []
    assert stages[-1] in others and stages[-1][0][1] != KIT
    kit_runs, product_runs = [], []
    for name, service in sorted(compose_services().items()):
        module = module_run(service.get("command") or [])
        if module is None or "build" not in service:
            continue
        assert importlib.util.find_spec(module) is not None, (name, module)
        target = service["build"].get("target")
        if names_the_kit(module):
            kit_runs.append(name)
            assert target == KIT, name
        else:
            product_runs.append(name)
            # No target: the Dockerfile's last stage, the product without the kit.
            assert target is None, name
    assert kit_runs and product_runs
