"""Which files the panel definition produces, and which committed ones differ from that."""

from __future__ import annotations

from pathlib import Path

from deploy import generated_files
from deploy.dashboards import consoles, grafana
from deploy.dashboards.panels import DASHBOARDS

ROOT = generated_files.ROOT
GRAFANA_DIR = ROOT / "deploy" / "grafana" / "dashboards"
CONSOLES_DIR = ROOT / "deploy" / "prometheus" / "consoles"
# Beside the hand-written gelombang.lib: the one library file the definition produces.
NAV_LIBRARY = ROOT / "deploy" / "prometheus" / "console_libraries" / "gelombang-nav.lib"


def expected_files() -> dict[Path, str]:
    files = {GRAFANA_DIR / f"{board.slug}.json": grafana.render(board) for board in DASHBOARDS}
    files |= {CONSOLES_DIR / name: text for name, text in consoles.render_all().items()}
    files[NAV_LIBRARY] = consoles.render_nav_library()
    return files


def found_files() -> list[Path]:
    """The rendered files there are now (one the definition no longer makes is deleted)."""
    return [*GRAFANA_DIR.glob("*.json"), *CONSOLES_DIR.glob("*.html")]


def stale_files() -> list[Path]:
    """Committed files that differ from the definition, are missing, or it no longer makes."""
    return generated_files.stale(expected_files(), found_files())
