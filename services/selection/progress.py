"""Progress of the long selection commands (draws, benchmarks): the callback every stage reports
to, and its printer on stderr. Standard library only: the draw's ranking helper process loads it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

# progress(stage, done, total); stages in order: ranking, sorting, province, remainder.
Progress = Callable[[str, int, int], None]


def silent(stage: str, done: int, total: int) -> None:
    """A Progress that reports nothing."""


class ProgressPrinter:
    """Draw progress on stderr, so stdout stays machine-readable (bench-draw prints JSON there)."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self._started
        print(f"  [{elapsed:6.2f} s] {stage}: {done:,}/{total:,}", file=sys.stderr, flush=True)
