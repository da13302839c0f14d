"""Per-province seat quotas: from an admin's CSV, or proportional to the shipped weight table."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path

from gelombang.regions import is_province

QUOTA_HEADER = ["province_code", "quota"]
WEIGHTS_HEADER = ["province_code", "province_name", "weight", "source"]
WEIGHTS_PATH = Path(__file__).parent / "data" / "province_weights.csv"


class QuotaFileError(ValueError):
    """A quota or weight file that cannot be used; the message names the file and line."""


def numbered_rows(
    file: Iterable[str], path: Path, header: list[str], error: Callable[[str], Exception]
) -> Iterator[tuple[int, list[str]]]:
    """The rows of a CSV file below its header, each with its line number. The header must be
    exactly ``header``; if it is not, ``error`` is raised at once, naming the file and line 1."""
    reader = csv.reader(file)
    found = next(reader, None)
    if found != header:
        raise error(
            f"{path}:1: header must be exactly {','.join(header)!r}, got {','.join(found or [])!r}"
        )
    return ((reader.line_num, row) for row in reader)


def proportional_quotas(total: int, weights: Mapping[str, float | int]) -> dict[str, int]:
    """Split ``total`` seats by the largest-remainder (Hamilton) method.

    Every province first gets the floor of its exact share ``total * weight / sum(weights)``; the
    seats left over go one each to the largest fractional remainders, ties going to the lower
    province code. Shares are computed with exact fractions, not floats, so the result cannot
    depend on the platform's rounding and always sums to ``total``.
    """
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError(f"total must be a non-negative integer, got {total!r}")
    exact: dict[str, Fraction] = {}
    for code, weight in weights.items():
        if isinstance(weight, float) and not math.isfinite(weight):
            raise ValueError(f"weight for {code} is not a finite number")
        if weight < 0:
            raise ValueError(f"weight for {code} is negative")
        exact[code] = Fraction(weight)
    weight_sum = sum(exact.values(), Fraction(0))
    if weight_sum == 0:
        raise ValueError("weights must include at least one positive weight")
    shares = {code: total * weight / weight_sum for code, weight in exact.items()}
    quotas = {code: math.floor(share) for code, share in shares.items()}
    leftover = total - sum(quotas.values())
    by_remainder = sorted(shares, key=lambda code: (-(shares[code] - quotas[code]), code))
    for code in by_remainder[:leftover]:
        quotas[code] += 1
    return dict(sorted(quotas.items()))


def load_quota_csv(path: Path) -> dict[str, int]:
    """Read ``province_code,quota`` rows; QuotaFileError with the line number on any bad row."""
    quotas: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as file:
        for line, row in numbered_rows(file, path, QUOTA_HEADER, QuotaFileError):
            if not row:
                continue
            if len(row) != len(QUOTA_HEADER):
                raise QuotaFileError(f"{path}:{line}: expected 2 fields, got {len(row)}")
            code, raw_quota = (field.strip() for field in row)
            if not is_province(code):
                raise QuotaFileError(f"{path}:{line}: unknown province code {code!r}")
            if code in first_seen:
                raise QuotaFileError(
                    f"{path}:{line}: province {code} already given on line {first_seen[code]}"
                )
            if not raw_quota.isascii() or not raw_quota.isdigit():
                raise QuotaFileError(
                    f"{path}:{line}: quota {raw_quota!r} is not a non-negative whole number"
                )
            quotas[code] = int(raw_quota)
            first_seen[code] = line
    return dict(sorted(quotas.items()))


def load_weights(path: Path = WEIGHTS_PATH) -> dict[str, float]:
    """The shipped province weight table (see the README for its source) as code → weight."""
    weights: dict[str, float] = {}
    with path.open(newline="", encoding="utf-8") as file:
        for line, row in numbered_rows(file, path, WEIGHTS_HEADER, QuotaFileError):
            if len(row) != len(WEIGHTS_HEADER):
                raise QuotaFileError(f"{path}:{line}: expected 4 fields, got {len(row)}")
            code, _name, raw_weight, _source = row
            if not is_province(code) or code in weights:
                raise QuotaFileError(f"{path}:{line}: unknown or repeated province {code!r}")
            try:
                weight = float(raw_weight)
            except ValueError:
                message = f"{path}:{line}: weight {raw_weight!r} is not a number"
                raise QuotaFileError(message) from None
            if not math.isfinite(weight) or weight < 0:
                raise QuotaFileError(f"{path}:{line}: weight must be a non-negative number")
            weights[code] = weight
    return weights
