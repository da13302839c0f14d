"""Grafana dashboard JSON from the panel definition (deploy/grafana/dashboards/<slug>.json)."""

from __future__ import annotations

import json
from typing import Any

from deploy.dashboards.panels import Dashboard, Panel

# The one datasource Grafana is given (deploy/grafana/provisioning/datasources/prometheus.yml).
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
GRID_COLUMNS = 24
PANEL_HEIGHT = 8


def _target(panel: Panel, index: int) -> dict[str, Any]:
    query = panel.queries[index]
    target: dict[str, Any] = {
        "refId": chr(ord("A") + index),
        "datasource": dict(DATASOURCE),
        "expr": query.expr,
    }
    if panel.kind == "table":
        target |= {"format": "table", "instant": True, "range": False}
    else:
        target |= {"legendFormat": query.legend, "range": True}
    return target


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit}
    if panel.red_above is not None:
        defaults["thresholds"] = {
            "mode": "absolute",
            "steps": [
                {"color": "green", "value": None},
                {"color": "red", "value": panel.red_above},
            ],
        }
    out: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": dict(DATASOURCE),
        "gridPos": {"h": PANEL_HEIGHT, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [_target(panel, i) for i in range(len(panel.queries))],
    }
    if panel.kind == "timeseries":
        out["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "multi"},
        }
    return out


def dashboard_json(board: Dashboard) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    x = y = 0
    for panel_id, panel in enumerate(board.panels, start=1):
        if x + panel.width > GRID_COLUMNS:  # left to right, then the next row
            x, y = 0, y + PANEL_HEIGHT
        panels.append(_panel(panel, panel_id, x, y))
        x += panel.width
    return {
        "uid": f"gelombang-{board.slug}",
        "title": f"Gelombang / {board.title}",
        "description": board.description,
        "tags": ["gelombang"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def render(board: Dashboard) -> str:
    return json.dumps(dashboard_json(board), indent=2, ensure_ascii=False) + "\n"
