"""python -m deploy.dashboards write | check (from the repository root)."""

from __future__ import annotations

import sys

from deploy.dashboards.generate import expected_files, found_files
from deploy.generated_files import command

if __name__ == "__main__":
    description = "Generate the Grafana dashboards and the Prometheus console pages from"
    description += " deploy/dashboards/panels.py."
    sys.exit(command("deploy.dashboards", description, expected_files, found_files))
