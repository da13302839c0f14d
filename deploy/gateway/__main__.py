"""python -m deploy.gateway write | check (from the repository root)."""

from __future__ import annotations

import sys

from deploy.gateway.render import expected_files
from deploy.generated_files import command

if __name__ == "__main__":
    description = "Render the compose and Kubernetes gateway configs from"
    description += " deploy/gateway/nginx.conf.template."
    sys.exit(command("deploy.gateway", description, expected_files))
