"""``python -m services.selection``: export a wave draw, verify a published one, benchmark the draw.

All file handling for the draw lives here; ``draw.py`` stays pure so the same functions are fed
rows from Postgres by the service. Bad input ends with one clear ``error:`` line and exit status 2,
never a traceback: the people running ``verify-draw`` are often outsiders checking a published draw.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import secrets
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
from tqdm import tqdm

from gelombang.pii import PiiCipher
from gelombang.regions import is_province
from services.selection.draw import (
    ALGORITHM_VERSION,
    ALGORITHM_VERSION_V2,
    PROVINCE_CODE,
    REGISTRATION_ID,
    TIERS,
    DrawResult,
    EligibleEntry,
    algorithm_version,
    canonical_eligible,
    draw,
    normalise_beacon_text,
    normalise_seed,
    seed_commitment,
    validate_entries,
    validate_quotas,
)
from services.selection.drawbench import (
    SCRATCH_DATABASE,
    bench_in_memory,
    default_admin_url,
    print_figures,
    run_stored,
)
from services.selection.progress import ProgressPrinter
from services.selection.quotas import (
    QuotaFileError,
    load_quota_csv,
    load_weights,
    proportional_quotas,
)
from services.selection.repository import (
    PostgresWaveStore,
    import_list_rows,
    record_started,
    revoke_expired,
)
from services.selection.schemas import WaveOut
from services.selection.service import Wave, WaveError, Waves, WaveStore, import_list
from services.selection.settings import SelectionSettings

ELIGIBLE_HEADER = ["registration_id", "province_code", "tier"]
RESULT_HEADER = ["registration_id", "province_code", "tier", "rank", "outcome"]
BEACON_FIELDS = ("beacon_source", "beacon_reference", "beacon_value")
DEFAULT_WAVE_QUOTA = 164_000
# How many differing rows verify-draw prints before it stops: enough to see a pattern.
_SHOWN_DIFFERENCES = 5


class InputError(Exception):
    """Bad input the user can fix; printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None, wave_store: WaveStore | None = None) -> int:
    """Run one command. ``wave_store`` replaces the database for the admin commands (tests)."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.wave_store = wave_store
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
            "Run the gelombang-draw-v2 draw over an eligible list and write the three files that "
            "are published for the wave. Give --quotas (a province_code,quota CSV), --total "
            "(quotas proportional to the shipped province weights), or both (seats beyond the "
            "provincial quotas go to the national remainder). The beacon announced at close: "
            "--beacon-source, --beacon-reference and --beacon-value, all three (without them "
            "the draw is gelombang-draw-v1). Without --eligible, a drawn wave is exported from "
            "the database as stored."
        ),
    )
    export.add_argument(
        "--eligible",
        type=Path,
        help="CSV with the exact header registration_id,province_code,tier; without it, the "
        "wave's stored list and result are exported from the database (a drawn wave)",
    )
    export.add_argument("--seed", help="the revealed seed: 64 hex characters (32 bytes)")
    export.add_argument("--wave", type=_positive_int, required=True, help="wave number (1, 2, ...)")
    export.add_argument("--quotas", type=Path, help="CSV with the exact header province_code,quota")
    export.add_argument(
        "--total",
        type=_non_negative_int,
        help="total seats in the wave (default: the sum of --quotas)",
    )
    export.add_argument("--out", type=Path, required=True, help="directory to write (created)")
    export.add_argument("--beacon-source", help="the public beacon named at close")
    export.add_argument("--beacon-reference", help="the reference announced at close")
    export.add_argument("--beacon-value", help="the value the beacon published for it")
    export.set_defaults(run=_export_draw)

    verify = commands.add_parser(
        "verify-draw",
        help="re-run a published draw and compare it with its result.csv",
        description=(
            "Check a published draw directory: the eligible list's SHA-256, the seed against its "
            "commitment, the beacon, and a fresh run of the draw against result.csv row by row. "
            "Prints MATCH (exit 0) or MISMATCH and the first mismatch (exit 1), then every check."
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
    verify.add_argument(
        "--beacon-reference", help="the beacon reference announced at close, if you kept it"
    )
    verify.add_argument(
        "--beacon-value", help="the value you looked up at the beacon for that reference"
    )
    verify.set_defaults(run=_verify_draw)

    bench = commands.add_parser(
        "bench-draw",
        help="time the draw over N synthetic registrations (in memory, or --stored)",
        description=(
            "Generate N synthetic eligible entries (reproducible), run the draw with progress on "
            'stderr, and print {"rows": N, "draw_s": seconds} on stdout. Only the draw is timed. '
            "With --stored: load them as verified people into the pool of a scratch database "
            "(created for the run and dropped after it), close and draw a wave through the "
            "service's code, and print the seconds of each step (close_s, load_s, draw_s, "
            "store_s) and stored_total_s, from the stored pool to stored results."
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
    bench.add_argument(
        "--stored",
        action="store_true",
        help="from the stored pool to stored results, in a scratch database",
    )
    bench.add_argument(
        "--database",
        default=SCRATCH_DATABASE,
        help=f"with --stored: the scratch database's name (default {SCRATCH_DATABASE}; it is "
        "dropped, and must start with that)",
    )
    bench.add_argument(
        "--admin-url",
        help="with --stored: a role that may create databases (default: "
        "$GELOMBANG_DRAWBENCH_ADMIN_URL, else the local stack's superuser over its socket)",
    )
    bench.set_defaults(run=_bench_draw)

    add_admin_commands(commands)
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


class PublishedBeacon(NamedTuple):
    """The beacon fields of a gelombang-draw-v2 manifest."""

    source: str
    reference: str
    value: str


def _export_draw(args: argparse.Namespace) -> int:
    beacon_flags = (args.beacon_source, args.beacon_reference, args.beacon_value)
    if args.eligible is None:
        if args.seed is not None or any(flag is not None for flag in beacon_flags):
            raise InputError("without --eligible the seed and beacon come from the database")
        return export_stored_wave(args.wave, args.out)
    if args.seed is None:
        raise InputError("--seed is required with --eligible")
    seed = normalise_seed(args.seed)
    beacon: PublishedBeacon | None = None
    if any(flag is not None for flag in beacon_flags):
        if any(flag is None for flag in beacon_flags):
            raise InputError(
                "a v2 draw needs all of --beacon-source, --beacon-reference and --beacon-value"
            )
        named = zip(beacon_flags, BEACON_FIELDS, strict=True)
        beacon = PublishedBeacon(*(normalise_beacon_text(flag, name) for flag, name in named))
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
    beacon_value = None if beacon is None else beacon.value
    result = draw(
        entries, quotas, total, seed, progress=ProgressPrinter(), beacon_value=beacon_value
    )

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    eligible_bytes = canonical_eligible(entries)
    (out / "eligible.csv").write_bytes(eligible_bytes)
    (out / "result.csv").write_bytes(result_csv(result))
    manifest = manifest_json(
        wave=args.wave,
        eligible_bytes=eligible_bytes,
        seed=seed,
        quotas=quotas,
        total_quota=total,
        selected=result.selected,
        waitlisted=result.waitlisted,
        beacon=beacon,
    )
    (out / "manifest.json").write_bytes(manifest)
    print(
        f"wave {args.wave}: {result.selected} selected, {result.waitlisted} waitlisted "
        f"({result.remainder_seats} national remainder seats); wrote {out}"
    )
    return 0


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


# verify-draw


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


def _verify_draw(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    manifest = _read_manifest(directory / "manifest.json")
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
        entries = _parse_canonical(eligible_path, eligible_bytes)
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
    if not args.stored:
        print_figures(bench_in_memory(args.rows, args.total, args.random_seed))
        return 0
    app_url = SelectionSettings().database_url
    admin_url = args.admin_url or default_admin_url(app_url)
    try:
        figures = run_stored(
            args.rows,
            args.total,
            args.random_seed,
            app_url=app_url,
            admin_url=admin_url,
            database=args.database,
        )
    except (KeyboardInterrupt, asyncio.CancelledError):
        # ctrl-C or SIGTERM: the scratch database was dropped on the way out.
        print("interrupted", file=sys.stderr)
        return 130
    print_figures(figures)
    return 0


# -- admin commands: the same actions as the admin API, on the database directly ----------------
#
# For admins on a server of the deployment (they read GELOMBANG_DATABASE_URL and the keys like the
# services do). Refusals print the same sentence the API answers, exit status 2.


def add_admin_commands(commands: Any) -> None:
    seed = commands.add_parser(
        "new-seed",
        help="make a random seed and its commitment (publish the commitment, keep the seed)",
    )
    seed.set_defaults(run=_new_seed)

    waves = commands.add_parser("wave-list", help="list the waves")
    waves.set_defaults(run=lambda a: _with_waves(a, _print_waves))

    show = commands.add_parser("wave-show", help="show one wave as JSON")
    show.add_argument("number", type=_positive_int)
    show.set_defaults(run=lambda a: _with_waves(a, lambda w: _show(w, a.number)))

    create = commands.add_parser(
        "wave-create",
        help="create a wave",
        description="Create a wave. Quotas: --quotas CSV (province_code,quota), or --total split "
        "by the shipped population weights (default total 164000).",
    )
    create.add_argument("number", type=_positive_int)
    create.add_argument("--opens", type=_aware_datetime, required=True, help="ISO 8601 with zone")
    create.add_argument(
        "--closes", type=_aware_datetime, required=True, help="ISO 8601 with zone: the cut-off"
    )
    create.add_argument("--total", type=_non_negative_int)
    create.add_argument("--quotas", type=Path, help="CSV with the header province_code,quota")
    create.set_defaults(run=_wave_create)

    close = commands.add_parser(
        "wave-close",
        help="freeze the eligible list, publish its hash with the seed commitment and the beacon",
        description="Close a wave: freeze and hash the eligible list, and record the seed "
        "commitment and which public beacon value the draw will mix in (a source, a reference "
        "fixed only after the close, and when that reference is due). Publish all of it.",
    )
    close.add_argument("number", type=_positive_int)
    close.add_argument("--seed-commitment", required=True, help="from `new-seed`")
    close.add_argument(
        "--beacon-source",
        required=True,
        help="the public randomness beacon, named so anyone can look its values up",
    )
    close.add_argument(
        "--beacon-reference",
        required=True,
        help="which of its values the draw uses, one fixed only after now (e.g. 'round 12345678')",
    )
    close.add_argument(
        "--beacon-due",
        type=_aware_datetime,
        required=True,
        help="ISO 8601 with zone: when that value is published (after now; the draw waits)",
    )
    close.set_defaults(run=lambda a: _with_waves(a, lambda w: _close(w, a)))

    draw_cmd = commands.add_parser(
        "wave-draw",
        help="run the draw with the revealed seed and the beacon value",
        description="Draw a closed wave (once): the seed must match the commitment, and the "
        "beacon value must be for the reference announced at close, entered after it is due.",
    )
    draw_cmd.add_argument("number", type=_positive_int)
    draw_cmd.add_argument("--seed", required=True)
    draw_cmd.add_argument("--beacon-reference", help="the reference announced at close, exactly")
    draw_cmd.add_argument("--beacon-value", help="the value the beacon published for it")
    draw_cmd.set_defaults(run=lambda a: _with_waves(a, lambda w: _draw_wave(w, a)))

    announce = commands.add_parser(
        "wave-announce", help="send every person of the wave their decision"
    )
    announce.add_argument("number", type=_positive_int)
    announce.set_defaults(run=lambda a: _with_waves(a, lambda w: _announce(w, a.number)))

    lists = commands.add_parser(
        "import-list",
        help="import the labour-office list (nik,status) or the social-aid list (nik)",
        description="Stream an official list into the database, matched by the NIK's keyed hash. "
        "Re-importing the same file changes nothing. Bad rows are reported (and written to "
        "--errors as CSV) while the good rows are imported.",
    )
    lists.add_argument("kind", choices=["labour_office", "social_aid"])
    lists.add_argument("file", type=Path)
    lists.add_argument("--errors", type=Path, help="write the per-row error report here (CSV)")
    lists.set_defaults(run=_import_list)

    started = commands.add_parser(
        "training-started",
        help="record selected people who started a training (file: one registration id a line)",
    )
    started.add_argument("file", type=Path)
    started.set_defaults(run=_training_started)

    revoke = commands.add_parser(
        "revoke-expired",
        help="withdraw seats of people selected N days ago who did not start (the worker also "
        "does this every minute)",
    )
    revoke.set_defaults(run=_revoke_expired)


def _aware_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add +07:00 for WIB)")
    return value


def _new_seed(args: argparse.Namespace) -> int:
    seed = secrets.token_hex(32)
    print(f"seed:            {seed}   (keep secret until the draw)")
    print(f"seed_commitment: {seed_commitment(seed)}   (publish at close)")
    return 0


async def _connect() -> tuple[asyncpg.Pool, SelectionSettings]:
    settings = SelectionSettings()
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    return pool, settings


def _with_waves(args: argparse.Namespace, action: Callable[[Waves], Awaitable[int]]) -> int:
    async def act(store: WaveStore, default_total: int) -> int:
        try:
            return await action(Waves(store, default_total, load_weights()))
        except WaveError as error:
            raise InputError(error.message) from None

    async def run() -> int:
        if args.wave_store is not None:
            return await act(args.wave_store, DEFAULT_WAVE_QUOTA)
        pool, settings = await _connect()
        try:
            store = PostgresWaveStore(pool, progress=ProgressPrinter())
            return await act(store, settings.default_total_quota)
        finally:
            await pool.close()

    return asyncio.run(run())


def _wave_json(wave: Wave) -> str:
    return WaveOut.of(wave).model_dump_json(indent=2)


async def _print_waves(waves: Waves) -> int:
    rows = await waves.list()
    if not rows:
        print("no waves yet")
    for w in rows:
        eligible = "-" if w.eligible_count is None else f"{w.eligible_count:,}"
        selected = "-" if w.selected is None else f"{w.selected:,}"
        print(
            f"wave {w.number}: {w.state:9} closes {w.closes_at.isoformat()} "
            f"seats {w.total_quota:,} eligible {eligible} selected {selected}"
        )
    return 0


async def _show(waves: Waves, number: int) -> int:
    print(_wave_json(await waves.get(number)))
    return 0


def _wave_create(args: argparse.Namespace) -> int:
    quotas = load_quota_csv(args.quotas) if args.quotas is not None else None

    async def create(waves: Waves) -> int:
        wave = await waves.create(args.number, args.opens, args.closes, args.total, quotas)
        print(f"wave {wave.number} created: {wave.total_quota:,} seats, closes {wave.closes_at}")
        return 0

    return _with_waves(args, create)


async def _close(waves: Waves, args: argparse.Namespace) -> int:
    number: int = args.number
    print(f"closing wave {number}: freezing the eligible list ...", file=sys.stderr)
    wave = await waves.close(
        number,
        args.seed_commitment,
        args.beacon_source,
        args.beacon_reference,
        args.beacon_due,
        datetime.now(UTC),
    )
    due = "-" if wave.beacon_due_at is None else wave.beacon_due_at.isoformat()
    print(f"wave {number} closed at cut-off {wave.cutoff_at}   (publish all of this now)")
    print(f"  eligible:         {wave.eligible_count:,}")
    print(f"  eligible_sha256:  {wave.eligible_sha256}")
    print(f"  seed_commitment:  {wave.seed_commitment}")
    print(f"  beacon_source:    {wave.beacon_source}")
    print(f"  beacon_reference: {wave.beacon_reference}   (due {due}; the draw waits for it)")
    return 0


async def _draw_wave(waves: Waves, args: argparse.Namespace) -> int:
    number: int = args.number
    wave = await waves.draw(
        number,
        args.seed,
        args.beacon_reference,
        args.beacon_value,
        datetime.now(UTC),
        progress=ProgressPrinter(),
    )
    print(
        f"wave {number} drawn ({wave.algorithm_version}): {wave.selected:,} selected, "
        f"{wave.waitlisted:,} waitlisted"
    )
    print(f"  publish with: python -m services.selection export-draw --wave {number} --out DIR")
    return 0


async def _announce(waves: Waves, number: int) -> int:
    _, queued = await waves.announce(number)
    print(f"wave {number} announced: {queued:,} decisions queued for notification")
    return 0


def _import_list(args: argparse.Namespace) -> int:
    path: Path = args.file
    with path.open("rb") as fh:
        total = max(sum(1 for _ in fh) - 1, 0)

    async def run() -> int:
        pool, settings = await _connect()
        cipher = PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes)
        try:
            with (
                path.open(encoding="utf-8-sig", newline="") as fh,
                tqdm(total=total, unit=" rows", desc=f"import {args.kind}", file=sys.stderr) as bar,
            ):
                report = await import_list(
                    args.kind,
                    fh,
                    cipher.nik_hash,
                    lambda k, rows, rep: import_list_rows(pool, k, rows, rep),
                    progress=bar.update,
                )
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text (in Excel: save as CSV UTF-8)") from None
        finally:
            await pool.close()
        print(
            f"{args.kind}: {report.rows:,} rows: {report.added:,} added, {report.changed:,} "
            f"changed, {report.unchanged:,} already there, {len(report.errors):,} with errors"
        )
        for error in report.errors[:_SHOWN_DIFFERENCES]:
            print(f"  line {error.line}: {error.message}")
        if args.errors is not None:
            args.errors.write_text(report.error_csv(), encoding="utf-8")
            print(f"  error report: {args.errors}")
        return 1 if report.errors else 0

    return asyncio.run(run())


def _training_started(args: argparse.Namespace) -> int:
    ids: list[uuid.UUID] = []
    for number, line in enumerate(args.file.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                ids.append(uuid.UUID(line.strip()))
            except ValueError:
                raise InputError(f"{args.file}:{number}: not a registration id") from None

    async def run() -> int:
        pool, _ = await _connect()
        try:
            recorded = await record_started(pool, ids)
        finally:
            await pool.close()
        print(f"{recorded:,} of {len(ids):,} recorded (others: not selected or already recorded)")
        return 0

    return asyncio.run(run())


def _revoke_expired(args: argparse.Namespace) -> int:
    async def run() -> int:
        pool, settings = await _connect()
        try:
            revoked = await revoke_expired(pool, settings.confirm_within_days, datetime.now(UTC))
        finally:
            await pool.close()
        print(f"{revoked:,} seats withdrawn; they return to the next wave closed")
        return 0

    return asyncio.run(run())


def export_stored_wave(number: int, out: Path) -> int:
    """Write the published files of a drawn wave from what the database stored."""

    async def fetch() -> tuple[Wave, Sequence[EligibleEntry], list[Any]]:
        pool, _ = await _connect()
        store = PostgresWaveStore(pool)
        try:
            wave = await store.get(number)
            if wave is None or wave.state not in ("drawn", "announced") or wave.seed is None:
                raise InputError(f"wave {number} has not been drawn")
            return wave, await store.eligible(number), await store.results(number)
        finally:
            await pool.close()

    wave, entries, rows = asyncio.run(fetch())
    eligible_bytes = canonical_eligible(entries)
    if hashlib.sha256(eligible_bytes).hexdigest() != wave.eligible_sha256:
        raise InputError("stored eligible list no longer matches the hash published at close")
    # Set by the draw, which fetch() checked happened.
    assert wave.seed is not None and wave.selected is not None and wave.waitlisted is not None
    beacon = None
    if wave.beacon_value is not None:
        assert wave.beacon_source is not None and wave.beacon_reference is not None
        beacon = PublishedBeacon(wave.beacon_source, wave.beacon_reference, wave.beacon_value)
    if algorithm_version(wave.beacon_value) != wave.algorithm_version:
        raise InputError(f"wave {number} was drawn with {wave.algorithm_version}, not exported")
    manifest = manifest_json(
        wave=number,
        eligible_bytes=eligible_bytes,
        seed=wave.seed,
        quotas=wave.quotas,
        total_quota=wave.total_quota,
        selected=wave.selected,
        waitlisted=wave.waitlisted,
        beacon=beacon,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "eligible.csv").write_bytes(eligible_bytes)
    lines = [",".join(RESULT_HEADER)]
    lines.extend(
        f"{r['registration_id']},{r['province_code']},{r['tier']},{r['rank']},{r['outcome']}"
        for r in rows
    )
    lines.append("")
    (out / "result.csv").write_bytes("\n".join(lines).encode("ascii"))
    (out / "manifest.json").write_bytes(manifest)
    print(f"wave {number}: wrote {out} (check it with: verify-draw {out})")
    return 0
