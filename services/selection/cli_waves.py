"""The wave commands: the same actions as the admin API, on the database directly.

For admins on a server of the deployment (they read GELOMBANG_DATABASE_URL and the keys like the
services do). Refusals print the same sentence the API answers, exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.selection.cli_database import open_database
from services.selection.cli_input import InputError
from services.selection.draw import seed_commitment
from services.selection.progress import ProgressPrinter
from services.selection.quotas import load_quota_csv, load_weights
from services.selection.repository import PostgresWaveStore
from services.selection.schemas import WaveOut
from services.selection.service import Wave, WaveError, WaveRequest, Waves, WaveStore

# Seats of a wave by default: bench-draw's, and the waves' with a test's store (with the database,
# the settings' default_total_quota).
DEFAULT_WAVE_QUOTA = 164_000


def new_seed(args: argparse.Namespace) -> int:
    seed = secrets.token_hex(32)
    print(f"seed:            {seed}   (keep secret until the draw)")
    print(f"seed_commitment: {seed_commitment(seed)}   (publish at close)")
    return 0


def with_waves(args: argparse.Namespace, action: Callable[[Waves], Awaitable[int]]) -> int:
    """Run ``action`` on the waves of ``args.wave_store`` (tests), else of the database."""

    async def act(store: WaveStore, default_total: int) -> int:
        try:
            return await action(Waves(store, default_total, load_weights()))
        except WaveError as error:
            raise InputError(error.message) from None

    async def run() -> int:
        if args.wave_store is not None:
            return await act(args.wave_store, DEFAULT_WAVE_QUOTA)
        async with open_database() as (pool, settings):
            store = PostgresWaveStore(pool, progress=ProgressPrinter())
            return await act(store, settings.default_total_quota)

    return asyncio.run(run())


def list_waves(args: argparse.Namespace) -> int:
    return with_waves(args, _print_waves)


def show_wave(args: argparse.Namespace) -> int:
    return with_waves(args, lambda waves: _show(waves, args.number))


def close_wave(args: argparse.Namespace) -> int:
    return with_waves(args, lambda waves: _close(waves, args))


def draw_wave(args: argparse.Namespace) -> int:
    return with_waves(args, lambda waves: _draw_wave(waves, args))


def announce_wave(args: argparse.Namespace) -> int:
    return with_waves(args, lambda waves: _announce(waves, args.number))


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


def create_wave(args: argparse.Namespace) -> int:
    quotas = load_quota_csv(args.quotas) if args.quotas is not None else None

    async def create(waves: Waves) -> int:
        request = WaveRequest(args.number, args.opens, args.closes, args.total, quotas)
        wave = await waves.create(request)
        print(f"wave {wave.number} created: {wave.total_quota:,} seats, closes {wave.closes_at}")
        return 0

    return with_waves(args, create)


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
