"""The published files of a wave draw: ``eligible.csv``, ``result.csv`` and ``manifest.json``.

How ``export-draw`` writes them and ``verify-draw`` reads them back; ``draw.py`` stays pure, so the
same draw functions are fed rows from Postgres by the service. A malformed file is an InputError
naming the file and line.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from gelombang.regions import is_province
from services.selection.cli_input import InputError
from services.selection.draw import DrawResult, algorithm_version, seed_commitment
from services.selection.eligible_list import PROVINCE_CODE, REGISTRATION_ID, TIERS, EligibleEntry

ELIGIBLE_HEADER = ["registration_id", "province_code", "tier"]
RESULT_HEADER = ["registration_id", "province_code", "tier", "rank", "outcome"]
BEACON_FIELDS = ("beacon_source", "beacon_reference", "beacon_value")


class PublishedBeacon(NamedTuple):
    """The beacon fields of a gelombang-draw-v2 manifest."""

    source: str
    reference: str
    value: str


def manifest_json(
    *,
    wave: int,
    eligible_bytes: bytes,
    seed: str,
    quotas: dict[str, int],
    total_quota: int,
    selected: int,
    waitlisted: int,
    beacon: PublishedBeacon | None,
) -> bytes:
    """``manifest.json``: v1 without a beacon, v2 with its source, reference and value."""
    manifest: dict[str, object] = {
        "wave": wave,
        "eligible_sha256": hashlib.sha256(eligible_bytes).hexdigest(),
        "seed": seed,
        "seed_commitment": seed_commitment(seed),
        "quotas": quotas,
        "total_quota": total_quota,
        "selected": selected,
        "waitlisted": waitlisted,
        "algorithm_version": algorithm_version(None if beacon is None else beacon.value),
    }
    if beacon is not None:
        manifest.update(zip(BEACON_FIELDS, beacon, strict=True))
    # ensure_ascii: a beacon value in any script stays 7-bit in the file, and json.loads gives
    # back exactly the text that was hashed.
    return (json.dumps(manifest, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def read_eligible_csv(path: Path) -> list[EligibleEntry]:
    """Read an admin's eligible list (header required); InputError with the line on a bad row.

    Ids are lower-cased here, the one place outside input can arrive in another case, so that the
    draw and the published list see a single spelling.
    """
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if header != ELIGIBLE_HEADER:
            raise InputError(
                f"{path}:1: header must be exactly {','.join(ELIGIBLE_HEADER)!r}, got "
                f"{','.join(header or [])!r}"
            )
        return _parse_rows(path, ((reader.line_num, row) for row in reader), check_region=True)


def _parse_rows(
    path: Path, rows: Iterable[tuple[int, list[str]]], *, check_region: bool
) -> list[EligibleEntry]:
    entries: list[EligibleEntry] = []
    first_line: dict[str, int] = {}
    tiers = {str(tier): tier for tier in TIERS}
    for line, row in rows:
        if not row:
            continue
        if len(row) != len(ELIGIBLE_HEADER):
            raise InputError(f"{path}:{line}: expected 3 fields, got {len(row)}")
        raw_id, province_code, raw_tier = row
        registration_id = raw_id.lower()
        if not REGISTRATION_ID.fullmatch(registration_id):
            raise InputError(f"{path}:{line}: registration_id {raw_id!r} is not a UUID")
        valid_province = (
            is_province(province_code) if check_region else PROVINCE_CODE.fullmatch(province_code)
        )
        if not valid_province:
            raise InputError(f"{path}:{line}: unknown province code {province_code!r}")
        tier = tiers.get(raw_tier)
        if tier is None:
            raise InputError(f"{path}:{line}: tier {raw_tier!r} is not 1, 2 or 3")
        if registration_id in first_line:
            raise InputError(
                f"{path}:{line}: registration_id {registration_id} already on line "
                f"{first_line[registration_id]}"
            )
        first_line[registration_id] = line
        entries.append(EligibleEntry(registration_id, province_code, tier))
    return entries


def result_csv(result: DrawResult) -> bytes:
    """``result.csv``: header, then one row per entry sorted by registration_id, ``\\n`` endings."""
    lines = [",".join(RESULT_HEADER)]
    # Outcomes come in input order; the CLI passes id-sorted entries, so this sort is one linear
    # pass, but the file's order must not depend on that.
    ordered = sorted(result.outcomes, key=itemgetter(0))
    lines.extend(
        f"{o.registration_id},{o.province_code},{o.tier},{o.rank},{o.outcome}" for o in ordered
    )
    lines.append("")
    return "\n".join(lines).encode("ascii")


def stored_result_csv(rows: Iterable[Mapping[str, Any]], ranks: Iterable[str]) -> bytes:
    """``result.csv`` from a drawn wave's stored rows, in the order given (by registration_id),
    with each row's rank (recomputed: the database keeps none)."""
    lines = [",".join(RESULT_HEADER)]
    lines.extend(
        f"{r['registration_id']},{r['province_code']},{r['tier']},{rank},{r['outcome']}"
        for r, rank in zip(rows, ranks, strict=True)
    )
    lines.append("")
    return "\n".join(lines).encode("ascii")


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None
    expected = {
        "wave": int,
        "eligible_sha256": str,
        "seed": str,
        "seed_commitment": str,
        "quotas": dict,
        "total_quota": int,
        "selected": int,
        "waitlisted": int,
        "algorithm_version": str,
    }
    if not isinstance(manifest, dict):
        raise InputError(f"{path}: expected a JSON object")
    for key, kind in expected.items():
        if not isinstance(manifest.get(key), kind):
            raise InputError(f"{path}: field {key!r} missing or not a {kind.__name__}")
    return manifest


def parse_canonical(path: Path, data: bytes) -> list[EligibleEntry]:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not ASCII text") from None
    if not text:
        return []
    rows = ((number, line.split(",")) for number, line in enumerate(text.split("\n"), start=1))
    # The published list may name a province code that a later region table no longer has; the
    # draw does not care what a code means, so verification must not depend on the table.
    return _parse_rows(path, rows, check_region=False)
