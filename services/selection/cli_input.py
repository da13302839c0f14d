"""What every ``python -m services.selection`` command shares: its input error and argument types.

Bad input ends with one clear ``error:`` line and exit status 2, never a traceback: the people
running ``verify-draw`` are often outsiders checking a published draw.
"""

from __future__ import annotations

import argparse
from datetime import datetime


class InputError(Exception):
    """Bad input the user can fix; printed as one line, exit status 2."""


def positive_int(text: str) -> int:
    value = non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


def aware_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add +07:00 for WIB)")
    return value
