import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from services.selection.cli import main
from services.selection.draw import seed_commitment
from services.selection.ranking import rank

SEED = "5e" * 32
PROVINCES = ["11", "31", "32", "35", "94"]


def write_eligible(path: Path, rows: int = 60) -> Path:
    lines = ["registration_id,province_code,tier"]
    for n in range(rows):
        # Upper case on purpose: the published list must still come out lowercase.
        registration_id = str(uuid.UUID(int=n * 7919 + 1, version=4)).upper()
        lines.append(f"{registration_id},{PROVINCES[n % 5]},{n % 3 + 1}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def exported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    eligible = write_eligible(tmp_path / "in.csv")
    quotas = tmp_path / "quotas.csv"
    quotas.write_text("province_code,quota\n32,4\n35,3\n11,2\n", encoding="utf-8")
    out = tmp_path / "wave1"
    args = ["export-draw", "--eligible", str(eligible), "--seed", SEED, "--wave", "1"]
    assert main([*args, "--quotas", str(quotas), "--total", "15", "--out", str(out)]) == 0
    capsys.readouterr()
    return out


def verify(directory: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    status = main(["verify-draw", str(directory), *extra])
    return status, capsys.readouterr().out


def test_export_writes_the_three_published_files(exported: Path) -> None:
    manifest = json.loads((exported / "manifest.json").read_text())
    eligible = (exported / "eligible.csv").read_bytes()
    assert manifest["seed_commitment"] == seed_commitment(SEED)
    assert manifest["algorithm_version"] == "gelombang-draw-v1"
    assert manifest["quotas"] == {"11": 2, "32": 4, "35": 3}
    assert (manifest["total_quota"], manifest["selected"], manifest["waitlisted"]) == (15, 15, 45)
    assert manifest["wave"] == 1
    assert eligible == eligible.lower()
    assert not eligible.endswith(b"\n")
    result = (exported / "result.csv").read_text().splitlines()
    assert result[0] == "registration_id,province_code,tier,rank,outcome"
    ids = [line.split(",")[0] for line in eligible.decode().split("\n")]
    assert ids == sorted(ids)
    assert [row.split(",")[0] for row in result[1:]] == ids


def test_export_then_verify_matches(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = json.loads((exported / "manifest.json").read_text())
    status, out = verify(
        exported,
        capsys,
        "--eligible-sha256",
        manifest["eligible_sha256"],
        "--seed-commitment",
        seed_commitment(SEED),
    )
    assert status == 0
    assert out.splitlines()[0] == "MATCH: wave 1 (gelombang-draw-v1): 15 selected, 45 waitlisted"
    # v1 draws verify as they always did: no beacon, ranks keyed by the seed alone.
    assert "beacon_value" not in manifest
    assert "  ok    beacon: none: gelombang-draw-v1" in out
    assert "= the hash published at close" in out
    assert "= the commitment published at close" in out


def test_a_changed_result_row_is_a_mismatch(
    exported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = exported / "result.csv"
    lines = path.read_text().split("\n")
    row = next(n for n, line in enumerate(lines) if line.endswith(",waitlisted"))
    lines[row] = lines[row].replace(",waitlisted", ",selected")
    path.write_text("\n".join(lines))
    status, out = verify(exported, capsys)
    assert status == 1
    assert out.startswith(f"MISMATCH: result.csv line {row + 1}")
    assert "  FAIL  outcomes: " in out


def test_a_changed_eligible_row_is_a_hash_mismatch(
    exported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _change_eligible_row(exported)
    status, out = verify(exported, capsys)
    assert status == 1
    assert "eligible.csv has SHA-256" in out


def test_a_seed_that_does_not_match_its_commitment_is_a_mismatch(
    exported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit_manifest(exported, seed="5f" + SEED[2:])
    status, out = verify(exported, capsys)
    assert status == 1
    assert "seed hashes to" in out
    assert "result.csv line" in out  # and the draw itself comes out different


def test_a_commitment_published_at_close_is_checked(
    exported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = verify(exported, capsys, "--seed-commitment", "00" * 32)
    assert status == 1
    assert "published commitment" in out


def test_total_alone_uses_the_shipped_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eligible = write_eligible(tmp_path / "in.csv")
    out = tmp_path / "wave2"
    args = ["export-draw", "--eligible", str(eligible), "--seed", SEED, "--wave", "2"]
    assert main([*args, "--total", "1000", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["quotas"]) == 38
    assert sum(manifest["quotas"].values()) == 1000
    assert manifest["selected"] == 60
    assert verify(out, capsys)[0] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,province,tier\n", "in.csv:1: header must be exactly"),
        ("registration_id,province_code,tier\nnope,32,1\n", "in.csv:2: registration_id 'nope'"),
        (
            "registration_id,province_code,tier\n00000000-0000-4000-8000-000000000001,99,1\n",
            "in.csv:2: unknown province code '99'",
        ),
        (
            "registration_id,province_code,tier\n00000000-0000-4000-8000-000000000001,32,0\n",
            "in.csv:2: tier '0'",
        ),
        (
            "registration_id,province_code,tier\n"
            "00000000-0000-4000-8000-000000000001,32,1\n"
            "00000000-0000-4000-8000-000000000001,33,1\n",
            "in.csv:3: registration_id 00000000-0000-4000-8000-000000000001 already on line 2",
        ),
    ],
)
def test_bad_eligible_files_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    eligible = tmp_path / "in.csv"
    eligible.write_text(content, encoding="utf-8")
    args = ["export-draw", "--eligible", str(eligible), "--seed", SEED, "--wave", "1"]
    assert main([*args, "--total", "5", "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--total", "5", "--seed", "abc"], "64 hexadecimal"),
        (["--seed", SEED], "give --quotas, --total, or both"),
        (["--seed", SEED, "--quotas", "missing.csv"], "missing.csv"),
    ],
)
def test_bad_arguments_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    eligible = write_eligible(tmp_path / "in.csv")
    args = ["export-draw", "--eligible", str(eligible), "--wave", "1", "--out", str(tmp_path)]
    assert main([*args, *extra]) == 2
    assert message in capsys.readouterr().err


def test_verify_of_a_directory_without_a_manifest_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify-draw", str(tmp_path)]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_bench_prints_json_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-draw", "--rows", "500", "--total", "50"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["rows"] == 500
    assert report["draw_s"] >= 0
    assert "ranking" in captured.err


BEACON = ["--beacon-source", "drand quicknet", "--beacon-reference", "round 27946612"]
BEACON_VALUE = "12b0be648c0ee05804652fffaf9479872ed2134a654caf95825af425d5e45198"


@pytest.fixture
def exported_v2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    eligible = write_eligible(tmp_path / "in.csv")
    out = tmp_path / "wave3"
    args = ["export-draw", "--eligible", str(eligible), "--seed", SEED, "--wave", "3"]
    args += [*BEACON, "--beacon-value", f" {BEACON_VALUE}\n", "--total", "12", "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    return out


def test_a_v2_export_publishes_the_beacon_and_verifies(
    exported_v2: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = json.loads((exported_v2 / "manifest.json").read_text())
    assert manifest["algorithm_version"] == "gelombang-draw-v2"
    # Trimmed: a pasted line end is not part of the value that keys the draw.
    assert (manifest["beacon_source"], manifest["beacon_reference"], manifest["beacon_value"]) == (
        "drand quicknet",
        "round 27946612",
        BEACON_VALUE,
    )
    ranks = [line.split(",")[3] for line in (exported_v2 / "result.csv").read_text().split()[1:]]
    first_id = (exported_v2 / "eligible.csv").read_text().split(",")[0]
    assert ranks[0] == rank(SEED, first_id, BEACON_VALUE)
    status, out = verify(exported_v2, capsys, "--beacon-reference", "round 27946612")
    assert status == 0
    assert out.startswith("MATCH: wave 3 (gelombang-draw-v2)")
    assert f"reference 'round 27946612', value '{BEACON_VALUE}'; look the value up" in out
    assert "rows of result.csv (rank and outcome of each person)" in out


def _edit_manifest(directory: Path, **changes: object) -> None:
    path = directory / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _change_eligible_row(directory: Path) -> None:
    path = directory / "eligible.csv"
    lines = path.read_text().split("\n")
    registration_id, province, tier = lines[0].split(",")
    lines[0] = f"{registration_id},{province},{int(tier) % 3 + 1}"
    path.write_text("\n".join(lines))


def _change_outcome(directory: Path) -> None:
    path = directory / "result.csv"
    path.write_text(path.read_text().replace(",selected\n", ",waitlisted\n", 1))


@pytest.mark.parametrize(
    ("tamper", "first_mismatch", "also"),
    [
        (_change_eligible_row, "MISMATCH: eligible.csv has SHA-256", "FAIL  outcomes"),
        (
            lambda d: _edit_manifest(d, seed="5f" + SEED[2:]),
            "MISMATCH: seed hashes to",
            "FAIL  outcomes: result.csv line 2",
        ),
        (
            lambda d: _edit_manifest(d, beacon_value="0" * 64),
            "MISMATCH: result.csv line 2",
            "ok    seed",
        ),
        (_change_outcome, "MISMATCH: result.csv line", "ok    beacon"),
        (
            lambda d: _edit_manifest(d, algorithm_version="gelombang-draw-v1"),
            "MISMATCH: a gelombang-draw-v1 draw has no beacon",
            "FAIL  outcomes",
        ),
        (
            lambda d: _edit_manifest(d, beacon_value=None),
            "MISMATCH: a gelombang-draw-v2 manifest needs beacon_value",
            "FAIL  outcomes: the draw was not re-run",
        ),
    ],
    ids=["eligible row", "seed", "beacon value", "outcome", "downgraded to v1", "no value"],
)
def test_a_tampered_v2_draw_names_the_first_mismatch(
    exported_v2: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[Path], None],
    first_mismatch: str,
    also: str,
) -> None:
    tamper(exported_v2)
    status, out = verify(exported_v2, capsys)
    assert status == 1
    assert out.startswith(first_mismatch), out
    assert also in out


def test_a_beacon_value_other_than_the_one_looked_up_is_a_mismatch(
    exported_v2: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Someone re-ran the whole draw with another value and rewrote every file consistently: only
    # the value looked up at the beacon itself can tell.
    status, out = verify(exported_v2, capsys, "--beacon-value", "f" * 64)
    assert status == 1
    assert out.startswith(f"MISMATCH: manifest beacon_value is '{BEACON_VALUE}', you gave 'fff")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (BEACON, "needs all of --beacon-source, --beacon-reference and --beacon-value"),
        ([*BEACON, "--beacon-value", "a\tb"], "beacon_value contains control"),
        ([*BEACON, "--beacon-value", "  "], "beacon_value is empty"),
    ],
)
def test_bad_beacon_options_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    eligible = write_eligible(tmp_path / "in.csv")
    args = ["export-draw", "--eligible", str(eligible), "--seed", SEED, "--wave", "1"]
    assert main([*args, "--total", "5", "--out", str(tmp_path / "o"), *extra]) == 2
    assert message in capsys.readouterr().err
