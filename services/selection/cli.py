"""``python -m services.selection``: export a wave draw, verify a published one, benchmark the draw.

This module wires the commands to argparse and runs one; each group does its work in its own
module: ``cli_export`` and ``cli_verify`` (the published files, ``draw_files``), ``drawbench``,
``cli_waves`` (the admin actions on waves) and ``cli_pool`` (the lists and seats of the pool).
Bad input ends with one clear ``error:`` line and exit status 2, never a traceback: the people
running ``verify-draw`` are often outsiders checking a published draw.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from services.selection.cli_export import export_draw, export_stored_wave
from services.selection.cli_input import (
    InputError,
    aware_datetime,
    non_negative_int,
    positive_int,
)
from services.selection.cli_pool import (
    import_official_list,
    record_training_started,
    withdraw_expired_seats,
)
from services.selection.cli_verify import verify_draw
from services.selection.cli_waves import (
    DEFAULT_WAVE_QUOTA,
    announce_wave,
    close_wave,
    create_wave,
    draw_wave,
    list_waves,
    new_seed,
    show_wave,
)
from services.selection.draw_files import (
    BEACON_FIELDS,
    ELIGIBLE_HEADER,
    RESULT_HEADER,
    PublishedBeacon,
    manifest_json,
    read_eligible_csv,
    result_csv,
)
from services.selection.drawbench import SCRATCH_DATABASE, bench_draw
from services.selection.quotas import QuotaFileError
from services.selection.service import WaveStore

# Names this module has always offered (tests and published examples import them from here).
__all__ = [
    "BEACON_FIELDS",
    "DEFAULT_WAVE_QUOTA",
    "ELIGIBLE_HEADER",
    "RESULT_HEADER",
    "InputError",
    "PublishedBeacon",
    "add_admin_commands",
    "export_stored_wave",
    "main",
    "manifest_json",
    "read_eligible_csv",
    "result_csv",
]


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

    export = _command(
        commands,
        "export-draw",
        export_draw,
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
    export.add_argument("--wave", type=positive_int, required=True, help="wave number (1, 2, ...)")
    export.add_argument("--quotas", type=Path, help="CSV with the exact header province_code,quota")
    export.add_argument(
        "--total",
        type=non_negative_int,
        help="total seats in the wave (default: the sum of --quotas)",
    )
    export.add_argument("--out", type=Path, required=True, help="directory to write (created)")
    export.add_argument("--beacon-source", help="the public beacon named at close")
    export.add_argument("--beacon-reference", help="the reference announced at close")
    export.add_argument("--beacon-value", help="the value the beacon published for it")

    verify = _command(
        commands,
        "verify-draw",
        verify_draw,
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

    bench = _command(
        commands,
        "bench-draw",
        bench_draw,
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
    bench.add_argument("--rows", type=positive_int, default=1_500_000, help="default 1500000")
    bench.add_argument(
        "--total",
        type=non_negative_int,
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

    add_admin_commands(commands)
    return parser


# -- admin commands: the same actions as the admin API, on the database directly (cli_waves,
# cli_pool). Refusals print the same sentence the API answers, exit status 2.


def add_admin_commands(commands: Any) -> None:
    _command(
        commands,
        "new-seed",
        new_seed,
        help="make a random seed and its commitment (publish the commitment, keep the seed)",
    )

    _command(commands, "wave-list", list_waves, help="list the waves")

    _wave_command(commands, "wave-show", show_wave, help="show one wave as JSON")

    create = _wave_command(
        commands,
        "wave-create",
        create_wave,
        help="create a wave",
        description="Create a wave. Quotas: --quotas CSV (province_code,quota), or --total split "
        "by the shipped population weights (default total 164000).",
    )
    create.add_argument("--opens", type=aware_datetime, required=True, help="ISO 8601 with zone")
    create.add_argument(
        "--closes", type=aware_datetime, required=True, help="ISO 8601 with zone: the cut-off"
    )
    create.add_argument("--total", type=non_negative_int)
    create.add_argument("--quotas", type=Path, help="CSV with the header province_code,quota")

    close = _wave_command(
        commands,
        "wave-close",
        close_wave,
        help="freeze the eligible list, publish its hash with the seed commitment and the beacon",
        description="Close a wave: freeze and hash the eligible list, and record the seed "
        "commitment and which public beacon value the draw will mix in (a source, a reference "
        "fixed only after the close, and when that reference is due). Publish all of it.",
    )
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
        type=aware_datetime,
        required=True,
        help="ISO 8601 with zone: when that value is published (after now; the draw waits)",
    )

    draw_cmd = _wave_command(
        commands,
        "wave-draw",
        draw_wave,
        help="run the draw with the revealed seed and the beacon value",
        description="Draw a closed wave (once): the seed must match the commitment, and the "
        "beacon value must be for the reference announced at close, entered after it is due.",
    )
    draw_cmd.add_argument("--seed", required=True)
    draw_cmd.add_argument("--beacon-reference", help="the reference announced at close, exactly")
    draw_cmd.add_argument("--beacon-value", help="the value the beacon published for it")

    _wave_command(
        commands,
        "wave-announce",
        announce_wave,
        help="send every person of the wave their decision",
    )

    lists = _command(
        commands,
        "import-list",
        import_official_list,
        help="import the labour-office list (nik,status) or the social-aid list (nik)",
        description="Stream an official list into the database, matched by the NIK's keyed hash. "
        "Re-importing the same file changes nothing. Bad rows are reported (and written to "
        "--errors as CSV) while the good rows are imported.",
    )
    lists.add_argument("kind", choices=["labour_office", "social_aid"])
    lists.add_argument("file", type=Path)
    lists.add_argument("--errors", type=Path, help="write the per-row error report here (CSV)")

    started = _command(
        commands,
        "training-started",
        record_training_started,
        help="record selected people who started a training (file: one registration id a line)",
    )
    started.add_argument("file", type=Path)

    _command(
        commands,
        "revoke-expired",
        withdraw_expired_seats,
        help="withdraw seats of people selected N days ago who did not start (the worker also "
        "does this every minute)",
    )


def _wave_command(
    commands: Any, name: str, run: Callable[[argparse.Namespace], int], **text: str
) -> argparse.ArgumentParser:
    """A command on one wave: the wave's number comes first."""
    command = _command(commands, name, run, **text)
    command.add_argument("number", type=positive_int)
    return command


def _command(
    commands: Any, name: str, run: Callable[[argparse.Namespace], int], **text: str
) -> argparse.ArgumentParser:
    """A command and the function that runs it (``main`` calls ``args.run``)."""
    command: argparse.ArgumentParser = commands.add_parser(name, **text)
    command.set_defaults(run=run)
    return command
