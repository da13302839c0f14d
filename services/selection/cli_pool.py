"""The pool commands: official lists in, trainings started, seats not taken up withdrawn.

For admins on a server of the deployment, on the database directly like the wave commands.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from gelombang.pii import PiiCipher
from services.selection.cli_database import open_database
from services.selection.cli_input import InputError
from services.selection.repository import import_list_rows, record_started, revoke_expired
from services.selection.service import import_list

# How many bad rows import-list prints; all of them go to --errors.
_SHOWN_ERRORS = 5


def import_official_list(args: argparse.Namespace) -> int:
    path: Path = args.file
    with path.open("rb") as fh:
        total = max(sum(1 for _ in fh) - 1, 0)

    async def run() -> int:
        async with open_database() as (pool, settings):
            cipher = PiiCipher(settings.nik_hmac_key_bytes, settings.pii_key_bytes)
            try:
                with (
                    path.open(encoding="utf-8-sig", newline="") as fh,
                    tqdm(
                        total=total, unit=" rows", desc=f"import {args.kind}", file=sys.stderr
                    ) as bar,
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
        print(
            f"{args.kind}: {report.rows:,} rows: {report.added:,} added, {report.changed:,} "
            f"changed, {report.unchanged:,} already there, {len(report.errors):,} with errors"
        )
        for error in report.errors[:_SHOWN_ERRORS]:
            print(f"  line {error.line}: {error.message}")
        if args.errors is not None:
            args.errors.write_text(report.error_csv(), encoding="utf-8")
            print(f"  error report: {args.errors}")
        return 1 if report.errors else 0

    return asyncio.run(run())


def record_training_started(args: argparse.Namespace) -> int:
    ids: list[uuid.UUID] = []
    for number, line in enumerate(args.file.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                ids.append(uuid.UUID(line.strip()))
            except ValueError:
                raise InputError(f"{args.file}:{number}: not a registration id") from None

    async def run() -> int:
        async with open_database() as (pool, _):
            recorded = await record_started(pool, ids)
        print(f"{recorded:,} of {len(ids):,} recorded (others: not selected or already recorded)")
        return 0

    return asyncio.run(run())


def withdraw_expired_seats(args: argparse.Namespace) -> int:
    async def run() -> int:
        async with open_database() as (pool, settings):
            revoked = await revoke_expired(pool, settings.confirm_within_days, datetime.now(UTC))
        print(f"{revoked:,} seats withdrawn; they return to the next wave closed")
        return 0

    return asyncio.run(run())
