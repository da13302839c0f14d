"""Proof that the dashboards and rules ops rely on show real data from the live local stack.

After a short real load through the gateway (valid sign-ups, invalid ones for 4xx, a duplicate,
status reads), every panel query of the dashboards' one definition (deploy/dashboards/panels.py,
from which both the Grafana JSON and the console pages are generated) and every recording rule
must return series from the local Prometheus, and every alert expression must run and name only
metrics that exist. A misspelt metric or label makes a panel empty: this test is where that shows
up, not on the day ops need the panel.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deploy.dashboards.panels import DASHBOARDS
from tests.citizens import registry_person, valid_payload
from tests.waves import draw_a_small_wave

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
PROMETHEUS = "http://127.0.0.1:9090"
GATEWAY = "http://127.0.0.1:8080"
# Two scrapes (5 s apart) of every new series, so rate() over a 1 m window has two samples.
SETTLE_S = 12.0
# How long a query may take to show data before we call it empty.
PATIENCE_S = 30.0
# Series Prometheus makes itself for every target: they have no metadata of their own.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without"}


@dataclass(frozen=True)
class Query:
    where: str  # dashboard / panel, or rule group / rule
    expr: str
    selection: bool  # reads the selection service's gauges


def dashboard_queries() -> list[Query]:
    # (That the Grafana JSON is generated from this definition, and points at the datasource
    # Grafana is given, is tests/unit/test_dashboards.py's part.)
    return [
        Query(
            f"{board.title} / {panel.title} / {chr(ord('A') + number)}",
            query.expr,
            "selection_" in query.expr,
        )
        for board in DASHBOARDS
        for panel in board.panels
        for number, query in enumerate(panel.queries)
    ]


def rules() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += group["rules"]
    return found


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (a small lexer, enough for our own expressions)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # label values, regexes
    text = re.sub(r"\{[^}]*\}", "", text)  # matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges, subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = re.findall(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text)
    return {n for n in names if n not in KEYWORDS}


def prometheus_get(path: str, **params: str) -> Any:
    response = httpx.get(f"{PROMETHEUS}{path}", params=params, timeout=10)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "success", (path, params, body)
    return body["data"]


def instant(expr: str) -> list[dict[str, Any]]:
    data = prometheus_get("/api/v1/query", query=expr)
    result: list[dict[str, Any]] = data["result"]
    return result


def series_within(expr: str, patience_s: float = PATIENCE_S) -> list[dict[str, Any]]:
    deadline = time.monotonic() + patience_s
    while True:
        result = instant(expr)
        if result or time.monotonic() > deadline:
            return result
        time.sleep(2.0)


def sign_up(client: httpx.Client, payload: dict[str, Any]) -> httpx.Response:
    # The gateway's per-IP limit is shared with other tests from 127.0.0.1: back off as a real
    # client does, so the load arrives whole.
    for _ in range(10):
        answer = client.post("/api/v1/registrations", json=payload)
        if answer.status_code != 429:
            return answer
        time.sleep(float(answer.headers.get("retry-after", "1")))
    return answer


@pytest.fixture(scope="module")
def after_load() -> Iterator[None]:
    try:
        httpx.get(f"{PROMETHEUS}/-/ready", timeout=3).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.fail(f"local Prometheus not reachable on 9090 (make up): {exc}")
    valid = [valid_payload(_female=i % 2 == 0) for i in range(40)]
    invalid = [valid_payload(nik="123"), valid_payload(consent=False)] * 6
    with httpx.Client(base_url=GATEWAY, timeout=15) as client:
        # Four at a time: well inside the gateway's per-IP burst, and gentle on a shared box.
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda p: sign_up(client, p), valid + invalid))
        # A person the registry knows stays registered (a rejected one would be given their
        # NIK back), so their second sign-up is the edge's duplicate.
        live = registry_person()
        assert sign_up(client, live).status_code == 202
        duplicate = sign_up(client, live)
        accepted = [a.json() for a in answers[: len(valid)] if a.status_code == 202]
        for body in accepted[:10]:
            client.get(
                f"/api/v1/registrations/{body['registration_id']}",
                headers={"X-Status-Token": body["status_token"]},
            )
    assert len(accepted) >= 30, [a.status_code for a in answers]
    assert {a.status_code for a in answers[len(valid) :]} == {422}
    assert duplicate.status_code == 409, duplicate.text
    # The Waves dashboard shows the recent waves: on a fresh stack there are none until one is
    # drawn, so draw a small one, as an admin would, through the gateway.
    asyncio.run(draw_a_small_wave(patience_s=PATIENCE_S))
    time.sleep(SETTLE_S)
    yield


@pytest.fixture(scope="module")
def known_metrics(after_load: None) -> set[str]:
    declared = set(prometheus_get("/api/v1/metadata"))
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    return declared | recorded | SYNTHETIC


@pytest.fixture(scope="module")
def selection_scraped(after_load: None) -> bool:
    return bool(instant('up{job="selection"}'))


def is_known(name: str, known: set[str]) -> bool:
    # Histograms are declared under their family name; the series carry a suffix.
    family = re.sub(r"_(bucket|count|sum)$", "", name)
    return name in known or family in known


@pytest.mark.parametrize("query", dashboard_queries(), ids=lambda q: q.where)
def test_dashboard_panel_shows_data(
    query: Query, known_metrics: set[str], selection_scraped: bool
) -> None:
    if query.selection and not selection_scraped:
        pytest.skip('no selection target (up{job="selection"}) scraped yet: waves not wired')
    unknown = {n for n in metric_names(query.expr) if not is_known(n, known_metrics)}
    assert not unknown, f"{query.where}: no target exports {sorted(unknown)}"
    assert series_within(query.expr), f"{query.where}: no series for {query.expr}"


@pytest.mark.parametrize(
    "rule", [r for r in rules() if "record" in r], ids=lambda r: str(r["record"])
)
def test_recording_rule_produces_series(rule: dict[str, Any], known_metrics: set[str]) -> None:
    unknown = {n for n in metric_names(rule["expr"]) if not is_known(n, known_metrics)}
    assert not unknown, f"{rule['record']}: no target exports {sorted(unknown)}"
    assert series_within(rule["expr"]), f"{rule['record']}: no series"
    assert series_within(rule["record"]), f"{rule['record']}: Prometheus does not record it"


@pytest.mark.parametrize(
    "rule", [r for r in rules() if "alert" in r], ids=lambda r: str(r["alert"])
)
def test_alert_expression_runs_on_real_metrics(
    rule: dict[str, Any], known_metrics: set[str]
) -> None:
    # A healthy stack fires nothing, so emptiness proves nothing here: the query must run, and
    # every metric it reads must exist.
    instant(rule["expr"])
    unknown = {n for n in metric_names(rule["expr"]) if not is_known(n, known_metrics)}
    assert not unknown, f"{rule['alert']}: no target exports {sorted(unknown)}"


def test_local_prometheus_evaluates_every_rule_without_error(after_load: None) -> None:
    loaded = {
        rule["name"]: rule
        for group in prometheus_get("/api/v1/rules")["groups"]
        for rule in group["rules"]
    }
    for rule in rules():
        name = rule.get("record") or rule["alert"]
        assert name in loaded, f"{name} is not loaded by the local Prometheus (make up)"
        assert loaded[name]["health"] != "err", (name, loaded[name].get("lastError"))


def test_lexer_finds_the_metrics_an_expression_reads() -> None:
    expr = (
        'sum by (topic, le) (rate(kafka_produce_duration_seconds_bucket{topic=~"a|b"}[5m])) '
        "or 0 * service:http_requests:rate1m > bool 1e3"
    )
    assert metric_names(expr) == {
        "kafka_produce_duration_seconds_bucket",
        "service:http_requests:rate1m",
    }
