"""``export-draw``: run a wave draw over a list and write its published files, or write a drawn
wave's files from what the database stored."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.selection.cli_database import open_database
from services.selection.cli_input import InputError
from services.selection.draw import (
    DrawResult,
    algorithm_version,
    draw,
    normalise_beacon_text,
    validate_quotas,
)
from services.selection.draw_files import (
    BEACON_FIELDS,
    PublishedBeacon,
    manifest_json,
    read_eligible_csv,
    result_csv,
    stored_result_csv,
)
from services.selection.eligible_list import EligibleEntry, canonical_eligible, validate_entries
from services.selection.progress import Progress, ProgressPrinter
from services.selection.quotas import load_quota_csv, load_weights, proportional_quotas
from services.selection.ranking import normalise_seed, ranks
from services.selection.repository import PostgresWaveStore
from services.selection.service import Wave


def export_draw(args: argparse.Namespace) -> int:
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
    progress = ProgressPrinter()
    result, files = published_draw(args.wave, entries, quotas, total, seed, beacon, progress)

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out / name).write_bytes(content)
    print(
        f"wave {args.wave}: {result.selected} selected, {result.waitlisted} waitlisted "
        f"({result.remainder_seats} national remainder seats); wrote {out}"
    )
    return 0


def published_draw(
    wave: int,
    entries: Sequence[EligibleEntry],
    quotas: dict[str, int],
    total: int,
    seed: str,
    beacon: PublishedBeacon | None,
    progress: Progress | None = None,
) -> tuple[DrawResult, dict[str, bytes]]:
    """Draw ``entries`` (sorted by id) and return the result with the files to publish, by name
    in the order they are written."""
    beacon_value = None if beacon is None else beacon.value
    result = draw(entries, quotas, total, seed, progress=progress, beacon_value=beacon_value)
    eligible_bytes = canonical_eligible(entries)
    manifest = manifest_json(
        wave=wave,
        eligible_bytes=eligible_bytes,
        seed=seed,
        quotas=quotas,
        total_quota=total,
        selected=result.selected,
        waitlisted=result.waitlisted,
        beacon=beacon,
    )
    files = {
        "eligible.csv": eligible_bytes,
        "result.csv": result_csv(result),
        "manifest.json": manifest,
    }
    return result, files


def export_stored_wave(number: int, out: Path) -> int:
    """Write the published files of a drawn wave from what the database stored."""

    async def fetch() -> tuple[Wave, Sequence[EligibleEntry], list[Any]]:
        async with open_database() as (pool, _):
            store = PostgresWaveStore(pool)
            wave = await store.get(number)
            if wave is None or wave.state not in ("drawn", "announced") or wave.seed is None:
                raise InputError(f"wave {number} has not been drawn")
            return wave, await store.eligible(number), await store.results(number)

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
    # The database stores no ranks: each is recomputed from the revealed seed and beacon value.
    row_ranks = ranks(wave.seed, wave.beacon_value, [r["registration_id"] for r in rows])
    (out / "result.csv").write_bytes(stored_result_csv(rows, row_ranks))
    (out / "manifest.json").write_bytes(manifest)
    print(f"wave {number}: wrote {out} (check it with: verify-draw {out})")
    return 0
