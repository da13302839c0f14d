"""``python -m services.selection``: export a wave draw, verify a published one, benchmark the draw.

All file handling for the draw lives here; ``draw.py`` stays pure so the same functions can later
be fed rows from Postgres. Bad input ends with one clear ``error:`` line and exit status 2, never a
traceback: the people running ``verify-draw`` are often outsiders checking a published draw.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from gelombang.regions import is_province
from services.selection.draw import (
    ALGORITHM_VERSION,
    PROVINCE_CODE,
    REGISTRATION_ID,
    TIERS,
    DrawResult,
    EligibleEntry,
    canonical_eligible,
    draw,
    normalise_seed,
    seed_commitment,
    validate_entries,
    validate_quotas,
)
from services.selection.quotas import (
    QuotaFileError,
    load_quota_csv,
    load_weights,
    proportional_quotas,
)

ELIGIBLE_HEADER = ["registration_id", "province_code", "tier"]
RESULT_HEADER = ["registration_id", "province_code", "tier", "rank", "outcome"]
DEFAULT_WAVE_QUOTA = 164_000
# How many differing rows verify-draw prints before it stops: enough to see a pattern.
_SHOWN_DIFFERENCES = 5


class InputError(Exception):
    """Bad input the user can fix; printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except (InputError, QuotaFileError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.selection",
        description="Wave draws: export a draw, verify a published draw, benchmark the draw.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    export = commands.add_parser(
        "export-draw",
        help="run a wave draw and write eligible.csv, result.csv and manifest.json",
        description=(
            "Run the gelombang-draw-v1 draw over an eligible list and write the three files that "
            "are published for the wave. Give --quotas (a province_code,quota CSV), --total "
            "(quotas proportional to the shipped province weights), or both (seats beyond the "
            "provincial quotas go to the national remainder)."
        ),
    )
    export.add_argument(
        "--eligible",
        type=Path,
        required=True,
        help="CSV with the exact header registration_id,province_code,tier",
    )
    export.add_argument(
        "--seed", required=True, help="the revealed seed: 64 hex characters (32 bytes)"
    )
    export.add_argument("--wave", type=_positive_int, required=True, help="wave number (1, 2, ...)")
    export.add_argument("--quotas", type=Path, help="CSV with the exact header province_code,quota")
    export.add_argument(
        "--total",
        type=_non_negative_int,
        help="total seats in the wave (default: the sum of --quotas)",
    )
    export.add_argument("--out", type=Path, required=True, help="directory to write (created)")
    export.set_defaults(run=_export_draw)

    verify = commands.add_parser(
        "verify-draw",
        help="re-run a published draw and compare it with its result.csv",
        description=(
            "Check a published draw directory: the eligible list's SHA-256, the seed against its "
            "commitment, and a fresh run of the draw against result.csv row by row. Prints MATCH "
            "(exit 0) or MISMATCH and the reason (exit 1)."
        ),
    )
    verify.add_argument("directory", type=Path, help="directory written by export-draw")
    verify.add_argument(
        "--eligible-sha256",
        help="the hash published at close, if you kept it (else only the manifest's is checked)",
    )
    verify.add_argument(
        "--seed-commitment",
        help="the seed commitment published at close, if you kept it",
    )
    verify.set_defaults(run=_verify_draw)

    bench = commands.add_parser(
        "bench-draw",
        help="time the draw over N synthetic registrations",
        description=(
            "Generate N synthetic eligible entries (reproducible), run the draw with progress on "
            'stderr, and print {"rows": N, "draw_s": seconds} on stdout. Only the draw is timed.'
        ),
    )
    bench.add_argument("--rows", type=_positive_int, default=1_500_000, help="default 1500000")
    bench.add_argument(
        "--total",
        type=_non_negative_int,
        default=DEFAULT_WAVE_QUOTA,
        help=f"seats, split by the shipped weights (default {DEFAULT_WAVE_QUOTA})",
    )
    bench.add_argument(
        "--random-seed", type=int, default=2020, help="seed of the synthetic data (default 2020)"
    )
    bench.set_defaults(run=_bench_draw)
    return parser


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(text)


# export-draw


def _export_draw(args: argparse.Namespace) -> int:
    seed = normalise_seed(args.seed)
    if args.quotas is None and args.total is None:
        raise InputError("give --quotas, --total, or both")
    if args.quotas is not None:
        quotas = load_quota_csv(args.quotas)
        total = sum(quotas.values()) if args.total is None else args.total
    else:
        total = args.total
        quotas = proportional_quotas(total, load_weights())
    validate_quotas(quotas, total)
    # Sorted by id so the outcomes, and so result.csv, come out in the published list's order.
    entries = validate_entries(read_eligible_csv(args.eligible))
    result = draw(entries, quotas, total, seed, progress=ProgressPrinter())

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    eligible_bytes = canonical_eligible(entries)
    (out / "eligible.csv").write_bytes(eligible_bytes)
    (out / "result.csv").write_bytes(result_csv(result))
    manifest = {
        "wave": args.wave,
        "eligible_sha256": hashlib.sha256(eligible_bytes).hexdigest(),
        "seed": seed,
        "seed_commitment": seed_commitment(seed),
        "quotas": quotas,
        "total_quota": total,
        "selected": result.selected,
        "waitlisted": result.waitlisted,
        "algorithm_version": ALGORITHM_VERSION,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(
        f"wave {args.wave}: {result.selected} selected, {result.waitlisted} waitlisted "
        f"({result.remainder_seats} national remainder seats); wrote {out}"
    )
    return 0


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


# verify-draw


def _verify_draw(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    manifest = _read_manifest(directory / "manifest.json")
    problems: list[str] = []

    eligible_bytes = (directory / "eligible.csv").read_bytes()
    actual_sha = hashlib.sha256(eligible_bytes).hexdigest()
    if actual_sha != manifest["eligible_sha256"]:
        problems.append(
            f"eligible.csv has SHA-256 {actual_sha}, manifest says {manifest['eligible_sha256']}"
        )
    if args.eligible_sha256 is not None and actual_sha != args.eligible_sha256.strip().lower():
        problems.append(f"eligible.csv has SHA-256 {actual_sha}, published {args.eligible_sha256}")

    seed = normalise_seed(manifest["seed"])
    commitment = seed_commitment(seed)
    if commitment != manifest["seed_commitment"]:
        problems.append(
            f"seed hashes to {commitment}, manifest commitment is {manifest['seed_commitment']}"
        )
    if args.seed_commitment is not None and commitment != args.seed_commitment.strip().lower():
        problems.append(f"seed hashes to {commitment}, published commitment {args.seed_commitment}")
    if manifest["algorithm_version"] != ALGORITHM_VERSION:
        problems.append(
            f"manifest algorithm_version {manifest['algorithm_version']!r}; this tool runs "
            f"{ALGORITHM_VERSION!r}"
        )

    published_result = (directory / "result.csv").read_bytes()
    try:
        entries = _parse_canonical(directory / "eligible.csv", eligible_bytes)
        result = draw(
            entries, manifest["quotas"], manifest["total_quota"], seed, progress=ProgressPrinter()
        )
    except (InputError, ValueError) as error:
        # A published list that cannot even be re-run is a failed verification, not a usage error.
        problems.append(f"cannot re-run the draw: {error}")
        return _verdict(problems)
    if canonical_eligible(entries) != eligible_bytes:
        problems.append("eligible.csv is not in canonical form (sorted, lowercase, no header)")
    if (result.selected, result.waitlisted) != (manifest["selected"], manifest["waitlisted"]):
        problems.append(
            f"re-run gives {result.selected} selected / {result.waitlisted} waitlisted, manifest "
            f"says {manifest['selected']} / {manifest['waitlisted']}"
        )
    problems.extend(_compare_results(result_csv(result), published_result))
    return _verdict(
        problems,
        f"wave {manifest['wave']}: {result.selected} selected, {result.waitlisted} waitlisted, "
        f"eligible_sha256 {actual_sha}",
    )


def _verdict(problems: list[str], summary: str = "") -> int:
    if problems:
        print("MISMATCH")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print("MATCH")
    print(f"  {summary}")
    return 0


def _read_manifest(path: Path) -> dict[str, Any]:
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


def _parse_canonical(path: Path, data: bytes) -> list[EligibleEntry]:
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


# bench-draw


def _bench_draw(args: argparse.Namespace) -> int:
    rows: int = args.rows
    weights = load_weights()
    quotas = proportional_quotas(args.total, weights)
    started = time.perf_counter()
    entries = synthetic_entries(rows, weights, random.Random(args.random_seed))
    print(f"generated {rows} entries in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    seed = random.Random(args.random_seed).randbytes(32).hex()
    started = time.perf_counter()
    result = draw(entries, quotas, args.total, seed, progress=ProgressPrinter())
    elapsed = time.perf_counter() - started
    print(f"{result.selected} selected, {result.waitlisted} waitlisted", file=sys.stderr)
    print(json.dumps({"rows": rows, "draw_s": round(elapsed, 3)}))
    return 0


def synthetic_entries(
    rows: int, weights: dict[str, float], rng: random.Random
) -> list[EligibleEntry]:
    """Reproducible fake registrations: provinces by weight, tiers about 10% / 60% / 30%."""
    codes = sorted(weights)
    provinces = rng.choices(codes, weights=[weights[code] for code in codes], k=rows)
    tiers = rng.choices(TIERS, weights=(10, 60, 30), k=rows)
    return [
        EligibleEntry(str(uuid.UUID(int=rng.getrandbits(128), version=4)), province, tier)
        for province, tier in zip(provinces, tiers, strict=True)
    ]


class ProgressPrinter:
    """Draw progress on stderr, so stdout stays machine-readable (bench-draw prints JSON there)."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self._started
        print(f"  [{elapsed:6.2f} s] {stage}: {done:,}/{total:,}", file=sys.stderr, flush=True)
