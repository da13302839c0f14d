"""``verify-draw``: re-run a published draw and compare it with its files, check by check.

Its users are often outsiders checking a published draw: every check is printed, and the verdict
names the first mismatch.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from services.selection.cli_input import InputError
from services.selection.draw import (
    ALGORITHM_VERSION,
    ALGORITHM_VERSION_V2,
    DrawResult,
    draw,
    seed_commitment,
)
from services.selection.draw_files import (
    BEACON_FIELDS,
    parse_canonical,
    read_manifest,
    result_csv,
)
from services.selection.eligible_list import EligibleEntry, canonical_eligible
from services.selection.progress import ProgressPrinter
from services.selection.ranking import normalise_seed

# How many differing rows verify-draw prints before it stops: enough to see a pattern.
_SHOWN_DIFFERENCES = 5


class _Checks:
    """What verify-draw checked, in order; the verdict names the first mismatch."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.problems: list[str] = []

    def record(self, what: str, problems: list[str], passed: str) -> None:
        if problems:
            self.problems.extend(problems)
            self.lines.extend(f"  FAIL  {what}: {problem}" for problem in problems)
        else:
            self.lines.append(f"  ok    {what}: {passed}")

    def verdict(self, summary: str) -> int:
        if self.problems:
            print(f"MISMATCH: {self.problems[0]}")
        else:
            print(f"MATCH: {summary}")
        for line in self.lines:
            print(line)
        return 1 if self.problems else 0


def verify_draw(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    manifest = read_manifest(directory / "manifest.json")
    eligible_path = directory / "eligible.csv"
    eligible_bytes = eligible_path.read_bytes()
    published_result = (directory / "result.csv").read_bytes()
    checks = _Checks()

    actual_sha = hashlib.sha256(eligible_bytes).hexdigest()
    problems: list[str] = []
    if actual_sha != manifest["eligible_sha256"]:
        problems.append(
            f"eligible.csv has SHA-256 {actual_sha}, manifest says {manifest['eligible_sha256']}"
        )
    if args.eligible_sha256 is not None and actual_sha != args.eligible_sha256.strip().lower():
        problems.append(f"eligible.csv has SHA-256 {actual_sha}, published {args.eligible_sha256}")
    entries: list[EligibleEntry] | None = None
    try:
        entries = parse_canonical(eligible_path, eligible_bytes)
    except InputError as error:
        problems.append(f"cannot read eligible.csv: {error}")
    if entries is not None and canonical_eligible(entries) != eligible_bytes:
        problems.append("eligible.csv is not in canonical form (sorted, lowercase, no header)")
    checks.record(
        "eligible list",
        problems,
        f"{len(entries or [])} rows in canonical form, SHA-256 {actual_sha} = the manifest's "
        "eligible_sha256"
        + (" = the hash published at close" if args.eligible_sha256 is not None else ""),
    )

    problems = []
    seed: str | None = None
    try:
        seed = normalise_seed(manifest["seed"])
    except ValueError as error:
        problems.append(f"manifest seed: {error}")
    commitment = "" if seed is None else seed_commitment(seed)
    if seed is not None and commitment != manifest["seed_commitment"]:
        problems.append(
            f"seed hashes to {commitment}, manifest commitment is {manifest['seed_commitment']}"
        )
    published: str | None = args.seed_commitment
    if seed is not None and published is not None and commitment != published.strip().lower():
        problems.append(f"seed hashes to {commitment}, published commitment {published}")
    checks.record(
        "seed",
        problems,
        f"SHA-256 of the seed {seed} is {commitment} = the manifest's seed_commitment"
        + (" = the commitment published at close" if published is not None else ""),
    )

    runnable, beacon_value, problems, described = _check_beacon(manifest, args)
    checks.record("beacon", problems, described)

    problems = []
    result: DrawResult | None = None
    if entries is None or seed is None or not runnable:
        problems.append("the draw was not re-run (see above)")
    else:
        try:
            result = draw(
                entries,
                manifest["quotas"],
                manifest["total_quota"],
                seed,
                progress=ProgressPrinter(),
                beacon_value=beacon_value,
            )
        except ValueError as error:
            problems.append(f"cannot re-run the draw: {error}")
    if result is not None:
        if (result.selected, result.waitlisted) != (manifest["selected"], manifest["waitlisted"]):
            problems.append(
                f"re-run gives {result.selected} selected / {result.waitlisted} waitlisted, "
                f"manifest says {manifest['selected']} / {manifest['waitlisted']}"
            )
        problems.extend(_compare_results(result_csv(result), published_result))
    checks.record(
        "outcomes",
        problems,
        f"re-running the draw gives all {len(entries or [])} rows of result.csv (rank and "
        f"outcome of each person) and the manifest's {manifest['selected']} selected / "
        f"{manifest['waitlisted']} waitlisted",
    )
    return checks.verdict(
        f"wave {manifest['wave']} ({manifest['algorithm_version']}): {manifest['selected']} "
        f"selected, {manifest['waitlisted']} waitlisted"
    )


def _check_beacon(
    manifest: dict[str, Any], args: argparse.Namespace
) -> tuple[bool, str | None, list[str], str]:
    """(can the draw be re-run, beacon value to re-run it with, problems, what was checked)."""
    version = manifest["algorithm_version"]
    fields = {name: manifest.get(name) for name in BEACON_FIELDS}
    expected = {"beacon_reference": args.beacon_reference, "beacon_value": args.beacon_value}
    if version == ALGORITHM_VERSION:
        problems = [
            f"a {version} draw has no beacon, the manifest has {name}"
            for name, value in fields.items()
            if value is not None
        ]
        if any(given is not None for given in expected.values()):
            problems.append(f"the manifest says {version}, drawn without a beacon; you gave one")
        return True, None, problems, f"none: {version} ranks are keyed by the seed alone"
    if version != ALGORITHM_VERSION_V2:
        problems = [
            f"algorithm_version {version!r} is not {ALGORITHM_VERSION!r} or "
            f"{ALGORITHM_VERSION_V2!r}, the ones this tool runs"
        ]
        return False, None, problems, ""
    missing = [name for name, value in fields.items() if not isinstance(value, str) or not value]
    if missing:
        return False, None, [f"a {version} manifest needs {', '.join(missing)} as text"], ""
    problems = [
        f"manifest {name} is {fields[name]!r}, you gave {given.strip()!r}"
        for name, given in expected.items()
        if given is not None and given.strip() != fields[name]
    ]
    if all(given is not None for given in expected.values()):
        looked_up = " = the reference and value you gave"
    else:
        looked_up = "; look the value up at the source (or pass --beacon-reference/--beacon-value)"
    described = (
        f"{version}, source {fields['beacon_source']!r}, reference {fields['beacon_reference']!r}, "
        f"value {fields['beacon_value']!r}{looked_up}"
    )
    return True, fields["beacon_value"], problems, described


def _compare_results(expected: bytes, actual: bytes) -> list[str]:
    if expected == actual:
        return []
    expected_lines = expected.decode("ascii").split("\n")
    actual_lines = actual.decode("utf-8", errors="replace").split("\n")
    problems: list[str] = []
    for number, (want, got) in enumerate(zip(expected_lines, actual_lines, strict=False), start=1):
        if want != got:
            problems.append(f"result.csv line {number}: expected {want!r}, file has {got!r}")
            if len(problems) == _SHOWN_DIFFERENCES:
                return problems
    if len(expected_lines) != len(actual_lines):
        problems.append(
            f"result.csv has {len(actual_lines)} lines, the re-run gives {len(expected_lines)}"
        )
    return problems
