"""Progress of the long selection commands (draws, benchmarks), printed on stderr."""

from __future__ import annotations

import sys
import time


class ProgressPrinter:
    """Draw progress on stderr, so stdout stays machine-readable (bench-draw prints JSON there)."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self._started
        print(f"  [{elapsed:6.2f} s] {stage}: {done:,}/{total:,}", file=sys.stderr, flush=True)
