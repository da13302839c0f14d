"""The README's worked example of gelombang-draw-v2 and its stdlib re-run script, checked from the
README's own text: the published files are read out of services/selection/README.md, re-run with
draw.py, with verify-draw and with the script exactly as printed there."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.selection.cli import PublishedBeacon, main, manifest_json, result_csv
from services.selection.cli_export import published_draw
from services.selection.draw import ALGORITHM_VERSION_V2, draw, seed_commitment
from services.selection.eligible_list import EligibleEntry, canonical_eligible
from services.selection.ranking import draw_key

README = Path(__file__).resolve().parents[2] / "services" / "selection" / "README.md"
TEXT = README.read_text(encoding="utf-8")


def block(name: str) -> str:
    """The fenced block after ``<!-- worked-example:NAME -->``, without its final newline."""
    found = re.search(
        rf"<!-- worked-example:{re.escape(name)} -->\n```[a-z]*\n(.*?)\n```\n", TEXT, re.DOTALL
    )
    assert found, f"README has no worked-example block {name}"
    return found.group(1)


# The published files, byte for byte: eligible.csv has no final newline, the other two have one.
ELIGIBLE = block("eligible.csv").encode("ascii")
MANIFEST_TEXT = block("manifest.json") + "\n"
RESULT = (block("result.csv") + "\n").encode("ascii")
SCRIPT = block("rerun_wave.py") + "\n"
MANIFEST: dict[str, Any] = json.loads(MANIFEST_TEXT)


def entries_of(eligible: bytes) -> list[EligibleEntry]:
    rows = (line.split(",") for line in eligible.decode("ascii").split("\n") if line)
    return [EligibleEntry(rid, province, int(tier)) for rid, province, tier in rows]


def write_example(folder: Path, **replaced: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "eligible.csv": ELIGIBLE,
        "result.csv": RESULT,
        "manifest.json": MANIFEST_TEXT.encode("ascii"),
    }
    for name, content in {**files, **replaced}.items():
        (folder / name).write_bytes(content)
    return folder


def run_script(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The README's script text run as ``python3 rerun_wave.py FOLDER`` would run it."""
    saved = sys.argv
    sys.argv = ["rerun_wave.py", str(folder)]
    try:
        with pytest.raises(SystemExit) as finished:
            exec(compile(SCRIPT, "rerun_wave.py", "exec"), {"__name__": "__main__"})  # noqa: S102
    finally:
        sys.argv = saved
    return int(finished.value.code or 0), capsys.readouterr().out


def test_the_example_is_ten_rows_with_quotas_seed_and_beacon() -> None:
    entries = entries_of(ELIGIBLE)
    assert len(entries) == 10
    assert canonical_eligible(entries) == ELIGIBLE
    assert MANIFEST["algorithm_version"] == ALGORITHM_VERSION_V2
    assert MANIFEST["quotas"] == {"31": 1, "32": 2, "35": 2}
    assert MANIFEST["total_quota"] == 6
    assert MANIFEST["eligible_sha256"] == hashlib.sha256(ELIGIBLE).hexdigest()
    assert MANIFEST["seed_commitment"] == seed_commitment(MANIFEST["seed"])
    assert MANIFEST["beacon_reference"] == "round 27946612"


def test_draw_py_recomputes_the_readme_example_exactly() -> None:
    entries = entries_of(ELIGIBLE)
    seed, beacon = MANIFEST["seed"], MANIFEST["beacon_value"]
    result = draw(entries, MANIFEST["quotas"], MANIFEST["total_quota"], seed, beacon_value=beacon)
    assert result_csv(result) == RESULT
    assert (result.selected, result.waitlisted) == (MANIFEST["selected"], MANIFEST["waitlisted"])
    assert result.remainder_seats == 2
    # The numbers the README's walk-through quotes.
    assert f"`draw_key` is\n`{draw_key(seed, beacon).hex()}`" in TEXT
    order = sorted(result.outcomes, key=lambda o: (o.tier, o.rank))
    for number, o in enumerate(order, start=1):
        row = f"| {number} | {o.registration_id[:8]}-… | {o.province_code} | {o.tier} | "
        assert f"{row}`{o.rank[:8]}` |" in TEXT
        selected_here = "**selected**" in TEXT.split(row, 1)[1].split("\n", 1)[0]
        assert selected_here == (o.via == "province")
    # And the manifest is exactly what export-draw writes for it.
    manifest = manifest_json(
        wave=MANIFEST["wave"],
        eligible_bytes=ELIGIBLE,
        seed=seed,
        quotas=MANIFEST["quotas"],
        total_quota=MANIFEST["total_quota"],
        selected=result.selected,
        waitlisted=result.waitlisted,
        beacon=PublishedBeacon(MANIFEST["beacon_source"], MANIFEST["beacon_reference"], beacon),
    )
    assert manifest.decode("ascii") == MANIFEST_TEXT


def test_verify_draw_matches_the_readme_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_example(tmp_path / "wave-1")
    published = ["--eligible-sha256", MANIFEST["eligible_sha256"]]
    published += ["--seed-commitment", MANIFEST["seed_commitment"]]
    published += [
        "--beacon-reference",
        "round 27946612",
        "--beacon-value",
        MANIFEST["beacon_value"],
    ]
    assert main(["verify-draw", str(folder), *published]) == 0
    out = capsys.readouterr().out
    assert out.startswith("MATCH: wave 1 (gelombang-draw-v2): 6 selected, 4 waitlisted")
    for check in ("eligible list", "seed", "beacon", "outcomes"):
        assert f"  ok    {check}: " in out
    assert "= the reference and value you gave" in out


def test_the_readme_script_reruns_the_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_script(write_example(tmp_path / "wave-1"), capsys)
    assert status == 0
    assert out.splitlines()[-1] == "MATCH"
    assert draw_key(MANIFEST["seed"], MANIFEST["beacon_value"]).hex() in out
    assert "re-run:               6 selected, 4 waitlisted" in out
    imported = re.findall(r"^import (\w+)$", SCRIPT, re.MULTILINE)
    imported += re.findall(r"^from (\w+)[.\w]* import", SCRIPT, re.MULTILINE)
    assert imported and set(imported) <= sys.stdlib_module_names  # nothing to install


def _tampered() -> list[tuple[str, dict[str, bytes]]]:
    manifest = dict(MANIFEST)
    eligible_lines = ELIGIBLE.decode().split("\n")
    eligible_lines[0] = eligible_lines[0][:-1] + "2"  # tier 3 -> 2
    result_lines = RESULT.decode().split("\n")
    row = next(n for n, line in enumerate(result_lines) if line.endswith(",waitlisted"))
    result_lines[row] = result_lines[row].replace(",waitlisted", ",selected")

    def with_manifest(**changes: str) -> bytes:
        return (json.dumps({**manifest, **changes}, indent=2) + "\n").encode()

    return [
        ("eligible row", {"eligible.csv": "\n".join(eligible_lines).encode()}),
        ("seed", {"manifest.json": with_manifest(seed="5e" * 32)}),
        ("beacon value", {"manifest.json": with_manifest(beacon_value="0" * 64)}),
        ("outcome", {"result.csv": "\n".join(result_lines).encode()}),
    ]


@pytest.mark.parametrize(("what", "files"), _tampered(), ids=[t[0] for t in _tampered()])
def test_the_readme_script_catches_a_tampered_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str, files: dict[str, bytes]
) -> None:
    status, out = run_script(write_example(tmp_path / "wave-1", **files), capsys)
    assert status == 1
    assert "MISMATCH" in out.splitlines()


seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)
entry_lists = st.lists(
    st.tuples(st.uuids(), st.sampled_from(["11", "31", "32", "35"]), st.integers(1, 3)),
    max_size=30,
    unique_by=lambda row: row[0],
).map(lambda rows: [EligibleEntry(str(u), p, t) for u, p, t in rows])


@settings(max_examples=40, deadline=None)
@given(
    entry_lists,
    st.dictionaries(st.sampled_from(["11", "31", "32", "35"]), st.integers(0, 6), max_size=4),
    st.integers(0, 8),
    seeds,
    st.none() | st.text(min_size=1, max_size=30).map(str.strip).filter(str.isprintable),
)
def test_the_readme_script_agrees_with_draw_py(
    entries: list[EligibleEntry],
    quotas: dict[str, int],
    extra: int,
    seed: str,
    beacon_value: str | None,
) -> None:
    # Any v1 or v2 draw that export-draw would publish, the stdlib script re-runs to MATCH.
    beacon = None if not beacon_value else PublishedBeacon("test beacon", "round 1", beacon_value)
    total = sum(quotas.values()) + extra
    _, files = published_draw(1, sorted(entries), quotas, total, seed, beacon)
    namespace: dict[str, Any] = {"__name__": "rerun_wave"}
    exec(compile(SCRIPT, "rerun_wave.py", "exec"), namespace)  # noqa: S102
    with tempfile.TemporaryDirectory() as folder:
        for name, content in files.items():
            (Path(folder) / name).write_bytes(content)
        assert namespace["rerun"](folder) == []
