"""Structured JSON logging (structlog) with a last line of defence for personal data.

Code never passes personal data to a logger; the redaction below exists so that a mistake in a
future change shows up as "[redacted]" instead of a NIK in the ops team's log store.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_PERSONAL_KEYS = frozenset(
    {"nik", "full_name", "name", "birth_date", "email", "phone", "otp", "status_token", "token"}
)
_SIXTEEN_DIGITS = re.compile(r"(?<!\d)\d{16}(?!\d)")


def _redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in _PERSONAL_KEYS:
            event_dict[key] = "[redacted]"
        elif isinstance(event_dict[key], str):
            event_dict[key] = _SIXTEEN_DIGITS.sub("[redacted-nik]", event_dict[key])
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper())
    # One line per outbound request at INFO would drown the log at peak; failures are counted
    # in metrics and logged by our own code.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
