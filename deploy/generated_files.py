"""Files rendered from one source in the repository (the gateway's nginx configs, the
dashboards) and their ``write | check`` command: ``write`` brings them up to date, ``check``
fails while any differs from what its source renders, so CI catches an edit made to the output
only."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stale(expected: Mapping[Path, str], found: Iterable[Path] = ()) -> list[Path]:
    """Files that differ from ``expected`` or are missing, and those among ``found`` (the files
    of that kind that are there) that the source no longer makes."""
    paths = [p for p, text in expected.items() if not p.is_file() or p.read_text() != text]
    paths += set(found) - set(expected)
    return sorted(paths)


def write(expected: Mapping[Path, str], found: Iterable[Path] = ()) -> list[Path]:
    """Write every file whose contents changed, delete the ones no longer made."""
    changed = stale(expected, found)
    for path in changed:
        if path in expected:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected[path])
        else:
            path.unlink()
    return changed


def command(
    package: str,
    description: str,
    expected: Callable[[], Mapping[Path, str]],
    found: Callable[[], Iterable[Path]] = tuple,
    argv: list[str] | None = None,
) -> int:
    """``python -m <package> write | check``, run from the repository root."""
    parser = argparse.ArgumentParser(prog=f"python -m {package}", description=description)
    parser.add_argument("command", choices=("write", "check"))
    args = parser.parse_args(argv)
    if args.command == "write":
        for path in write(expected(), found()):
            verb = "wrote" if path.exists() else "deleted"
            print(f"{verb} {path.relative_to(ROOT)}")
        return 0
    paths = stale(expected(), found())
    for path in paths:
        print(f"out of date: {path.relative_to(ROOT)}")
    if paths:
        print(f"run: .venv/bin/python -m {package} write")
    return 1 if paths else 0
