"""Shared fixtures. Integration and e2e tiers use the stack that `make up` started."""

from __future__ import annotations

import os

from gelombang.settings import STACK_ENV

# Tests see the same generated dev keys and addresses as the running services.
if STACK_ENV.exists():
    for line in STACK_ENV.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            os.environ.setdefault(name.strip(), value.strip())
