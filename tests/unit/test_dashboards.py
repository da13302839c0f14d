"""The dashboards have one definition (deploy/dashboards/panels.py) and two renderings that are
committed: Grafana's JSON and the Prometheus console pages. They cannot drift from it.

No I/O beyond reading the repository: whether the queries find data is the job of
tests/integration/test_observability.py, whether the pages draw it that of
tests/e2e/test_dashboards.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from deploy.dashboards import consoles
from deploy.dashboards.generate import CONSOLES_DIR, GRAFANA_DIR, stale_files
from deploy.dashboards.panels import DASHBOARDS, Dashboard, Panel

ROOT = Path(__file__).resolve().parents[2]
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources"
LIBRARIES = ROOT / "deploy" / "prometheus" / "console_libraries"


def test_committed_dashboards_are_what_the_definition_generates() -> None:
    stale = [str(p.relative_to(ROOT)) for p in stale_files()]
    assert not stale, f"out of date (run .venv/bin/python -m deploy.dashboards write): {stale}"


def test_the_four_dashboards_exist_in_both_renderings() -> None:
    assert [b.title for b in DASHBOARDS] == ["Intake", "Pipeline", "Waves", "Infrastructure"]
    for board in DASHBOARDS:
        assert (GRAFANA_DIR / f"{board.slug}.json").is_file()
        assert (CONSOLES_DIR / f"gelombang-{board.slug}.html").is_file()
    index = (CONSOLES_DIR / "index.html").read_text()
    for board in DASHBOARDS:
        assert f'href="gelombang-{board.slug}.html"' in index


def test_grafana_panels_use_the_datasource_grafana_is_given() -> None:
    uids = {
        ds["uid"]
        for path in DATASOURCES.glob("*.yml")
        for ds in yaml.safe_load(path.read_text())["datasources"]
    }
    for path in sorted(GRAFANA_DIR.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in [panel, *panel["targets"]]:
                # A panel pointing at a datasource Grafana does not have shows nothing at all.
                assert target["datasource"]["uid"] in uids, (path.name, panel["title"])


@pytest.mark.parametrize("board", DASHBOARDS, ids=lambda b: b.slug)
def test_panels_are_complete(board: Dashboard) -> None:
    titles = [p.title for p in board.panels]
    assert len(titles) == len(set(titles)), "two panels with one title"
    for panel in board.panels:
        assert panel.queries and all(q.expr.strip() for q in panel.queries), panel.title
        assert panel.description.endswith("."), panel.title
        if panel.kind == "table":
            assert len(panel.queries) == 1 and panel.columns, panel.title
        elif len(panel.queries) > 1:
            # Several queries in one graph: each needs a legend to tell its lines apart.
            assert all(q.legend for q in panel.queries), panel.title


def test_machine_panels_are_on_the_infrastructure_dashboard() -> None:
    (infrastructure,) = [b for b in DASHBOARDS if b.slug == "infrastructure"]
    exprs = " ".join(q.expr for p in infrastructure.panels for q in p.queries)
    for metric in (
        "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes",
        'node_filesystem_avail_bytes{holds_run_dir="true"}',
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
    ):
        assert metric in exprs


def test_every_template_a_page_calls_is_defined_in_the_library() -> None:
    # Prometheus reads every *.lib in the libraries folder beside each page.
    libraries = "".join(p.read_text() for p in LIBRARIES.glob("*.lib"))
    defined = set(re.findall(r'\{\{\s*define\s+"([^"]+)"', libraries))
    for path in sorted(CONSOLES_DIR.glob("*.html")):
        called = set(re.findall(r'\{\{\s*template\s+"([^"]+)"', path.read_text()))
        assert called and called <= defined, (path.name, called - defined)


@pytest.mark.parametrize("board", DASHBOARDS, ids=lambda b: b.slug)
def test_a_console_page_hands_the_library_every_panel_of_its_board(board: Dashboard) -> None:
    page = (CONSOLES_DIR / f"gelombang-{board.slug}.html").read_text()
    # The board's last argument: a Go string literal (its escapes are JSON's) holding JSON.
    literal, _ = json.JSONDecoder().raw_decode(page, page.index('"{\\"panels\\"'))
    shown = json.loads(literal)["panels"]
    assert [p["title"] for p in shown] == [p.title for p in board.panels]
    for data, panel in zip(shown, board.panels, strict=True):
        assert data["exprs"] == [q.expr for q in panel.queries], panel.title
        # The script draws a table where it finds label columns, a graph everywhere else.
        assert data.get("columns", []) == list(panel.columns), panel.title


def test_console_legends_use_promconsole_syntax_not_template_actions() -> None:
    page = consoles.render(DASHBOARDS[0])
    (board,) = [line for line in page.splitlines() if '"gelombang_board"' in line]
    assert "[[channel]]" in board and "{{channel}}" not in board


def test_text_that_would_be_a_template_action_is_refused() -> None:
    board = Dashboard(
        "bad",
        "Bad",
        "A description.",
        (Panel("Oops {{ .Path }}", "A description.", "short", ()),),
    )
    with pytest.raises(ValueError, match="template delimiters"):
        consoles.render(board)
