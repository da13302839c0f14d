"""Shared fixtures. Integration and e2e tiers use the stack that `make up` started."""

from __future__ import annotations

import os

from gelombang.settings import STACK_ENV

# Settings default to production (refusing development keys); the suites run in dev, said here
# once rather than left to a default. A test that checks the production refusals says so itself.
os.environ.setdefault("GELOMBANG_ENV", "dev")

# Tests see the same generated dev keys and addresses as the running services.
if STACK_ENV.exists():
    for line in STACK_ENV.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            os.environ.setdefault(name.strip(), value.strip())
