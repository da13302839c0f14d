"""The Prometheus rules ops are paged by: valid, and each alert proven by a promtool unit test.

Only promtool and the rule files are touched (no Prometheus server): the tests in
deploy/prometheus/tests/ feed synthetic series and assert when each alert fires and when not.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yml"))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    # Not a skip: `make test` runs `make up`, which installs it; a missing promtool means the
    # alerts were never checked, and that must not pass quietly.
    assert binary is not None, "promtool not installed (make up installs the prometheus package)"
    return subprocess.run(
        [binary, *args], capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )


def alert_names(paths: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in paths:
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {rule["alert"] for rule in group["rules"] if "alert" in rule}
    return names


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.name)
def test_rule_file_is_accepted_by_promtool(path: Path) -> None:
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_fire_and_stay_quiet_as_the_unit_tests_expect() -> None:
    assert RULE_TESTS, "no promtool unit tests in deploy/prometheus/tests/"
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    tested: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            tested |= {check["alertname"] for check in case.get("alert_rule_test", [])}
    untested = alert_names(RULES) - tested
    assert not untested, f"alerts without a promtool unit test: {sorted(untested)}"


def test_the_alerts_the_issue_asks_for_exist() -> None:
    wanted = {
        "IntakeErrorRatioHigh",
        "IntakeLatencyP99High",
        "ConsumerLagGrowing",
        "DeadLettersPresent",
        "CivilRegistryCircuitOpen",
        "TargetDown",
    }
    assert wanted <= alert_names(RULES)
