"""Which files the panel definition produces, and which committed ones differ from that."""

from __future__ import annotations

from pathlib import Path

from deploy.dashboards import consoles, grafana
from deploy.dashboards.panels import DASHBOARDS

ROOT = Path(__file__).resolve().parents[2]
GRAFANA_DIR = ROOT / "deploy" / "grafana" / "dashboards"
CONSOLES_DIR = ROOT / "deploy" / "prometheus" / "consoles"


def expected_files() -> dict[Path, str]:
    files = {GRAFANA_DIR / f"{board.slug}.json": grafana.render(board) for board in DASHBOARDS}
    files |= {CONSOLES_DIR / name: text for name, text in consoles.render_all().items()}
    return files


def stale_files() -> list[Path]:
    """Committed files that differ from the definition, are missing, or it no longer makes."""
    expected = expected_files()
    found = {*GRAFANA_DIR.glob("*.json"), *CONSOLES_DIR.glob("*.html")}
    stale = [p for p, text in expected.items() if not p.is_file() or p.read_text() != text]
    stale += sorted(found - set(expected))
    return sorted(stale)


def write() -> list[Path]:
    """Write every generated file whose contents changed, delete the ones no longer made."""
    expected = expected_files()
    changed = []
    for path in stale_files():
        if path in expected:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected[path])
        else:
            path.unlink()
        changed.append(path)
    return changed
