"""Reconciliation arithmetic (what counts as lost and what counts as duplicated) and the id
files: a verdict only once every generator process has written its file."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from gelombang.settings import CommonSettings
from loadtests.reconcile import (
    NO_VERDICT,
    Checker,
    Reconciliation,
    collect_id_files,
    main,
    reconcile,
    registration_id_of,
    write_ids,
)


def test_everything_accounted_for_is_ok() -> None:
    result = reconcile(["a", "b"], {"a": 1, "b": 1}, {"a": "n1", "b": "n2"})
    assert (result.accepted, result.lost, result.duplicated, result.ok) == (2, 0, 0, True)


def test_missing_from_kafka_or_read_model_is_lost() -> None:
    result = reconcile(["a", "b", "c"], {"a": 1, "c": 1}, {"a": "n1", "b": "n2"})
    assert result.lost == 2
    assert sorted(result.lost_ids) == ["b", "c"]
    assert (result.in_kafka, result.in_read_model) == (2, 2)
    assert not result.ok


def test_two_events_for_one_id_is_a_duplicate() -> None:
    result = reconcile(["a"], {"a": 2}, {"a": "n1"})
    assert (result.lost, result.duplicated, result.duplicated_ids) == (0, 1, ["a"])


def test_one_nik_held_by_two_accepted_ids_is_a_duplicate() -> None:
    result = reconcile(["a", "b"], {"a": 1, "b": 1}, {"a": "same", "b": "same"})
    assert result.duplicated == 2


def test_a_later_sign_up_the_log_refused_holds_no_nik_and_is_not_lost() -> None:
    # A repeat that got past the edge: in the log and the read model, refused as a duplicate.
    result = reconcile(
        ["a", "b"], {"a": 1, "b": 1}, {"a": "same", "b": "same"}, refused=frozenset({"b"})
    )
    assert (result.lost, result.duplicated, result.in_read_model) == (0, 0, 2)


def test_two_holders_besides_a_refused_one_are_still_duplicates() -> None:
    read_model = {"a": "same", "b": "same", "c": "same"}
    result = reconcile(["a", "b", "c"], {"a": 1, "b": 1, "c": 1}, read_model, frozenset({"c"}))
    assert result.duplicated_ids == ["a", "b"]


def test_an_id_given_to_the_generator_twice_is_a_duplicate() -> None:
    result = reconcile(["a", "a"], {"a": 1}, {"a": "n1"})
    assert (result.accepted, result.duplicated) == (1, 1)


def test_registration_id_is_read_from_the_event_and_garbage_is_ignored() -> None:
    event = json.dumps({"registration_id": "ABC-1", "nik_hash": "x"}).encode()
    assert registration_id_of(event) == "abc-1"
    assert registration_id_of(b"not json") is None
    assert registration_id_of(None) is None
    assert registration_id_of(b"[1, 2]") is None


def test_only_submissions_count_not_the_releases_that_share_their_topic() -> None:
    release = json.dumps({"registration_id": "abc-1", "nik_hash": "x", "reason": "r"}).encode()
    assert registration_id_of(release, [("event_type", b"NikReleased")]) is None
    assert registration_id_of(release, [("event_type", b"RegistrationSubmitted")]) == "abc-1"


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


async def all_in_order(ids: Sequence[str], since_ms: int, _: CommonSettings) -> Reconciliation:
    return reconcile(list(ids), dict.fromkeys(ids, 1), {i: f"nik-{i}" for i in ids})


async def never(ids: Sequence[str], since_ms: int, _: CommonSettings) -> Reconciliation:
    raise AssertionError("no verdict may be asked for")


def run(argv: list[str], capsys: pytest.CaptureFixture[str], checker: Checker) -> tuple[int, str]:
    code = main(argv, checker=checker)
    return code, capsys.readouterr().out


def test_an_id_file_is_written_whole_with_the_202s_counted(tmp_path: Path) -> None:
    path = tmp_path / "load-ids-7.json"
    write_ids(path, 1_000, ["a", "b"], answered_202=2)
    assert json.loads(path.read_text()) == {"since_ms": 1_000, "ids": ["a", "b"], "answered_202": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["load-ids-7.json"]  # no temporary left


def test_one_of_two_files_missing_says_so_and_gives_no_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ids(tmp_path / "load-ids-1.json", 1_000, ["a", "b"], answered_202=2)
    argv = ["--expect-files", "2", "--files-wait-s", "0", str(tmp_path / "load-ids-*.json")]
    code, out = run(argv, capsys, never)
    assert code == NO_VERDICT
    assert f"{tmp_path / 'load-ids-1.json'}: 2 ids, 2 answers 202" in out
    assert "NO VERDICT: expected 2 id file(s)" in out and "found 1" in out
    assert "accepted" not in out


def test_files_without_ids_give_no_verdict_instead_of_accepted_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ids(tmp_path / "load-ids-1.json", 1_000, [], answered_202=0)
    code, out = run([str(tmp_path / "load-ids-*.json"), "--files-wait-s", "0"], capsys, never)
    assert code == NO_VERDICT
    assert "0 ids, 0 answers 202  (EMPTY)" in out
    assert "NO VERDICT: the id files hold no ids" in out
    assert "accepted 0" not in out


def test_a_pattern_matching_nothing_gives_no_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run([str(tmp_path / "load-ids-*.json"), "--files-wait-s", "0"], capsys, never)
    assert (code, "NO VERDICT: no id file matches" in out) == (NO_VERDICT, True)


def test_files_of_another_run_beside_this_one_give_no_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n in (1, 2, 3):
        write_ids(tmp_path / f"load-ids-{n}.json", 1_000, ["a"])
    code, out = run(
        ["--expect-files", "2", "--files-wait-s", "0", str(tmp_path / "load-ids-*.json")],
        capsys,
        never,
    )
    assert (code, "expected 2 id file(s), found 3" in out) == (NO_VERDICT, True)


def test_waits_for_a_file_written_late_then_reads_both(tmp_path: Path) -> None:
    write_ids(tmp_path / "load-ids-1.json", 1_000, ["a"])
    time = FakeTime()

    def sleep(seconds: float) -> None:
        time.sleep(seconds)
        if time.sleeps == 3:  # the second worker finishes stopping its users
            write_ids(tmp_path / "load-ids-2.json", 1_000, ["b"])

    found = collect_id_files(
        [str(tmp_path / "load-ids-*.json")], 2, 60, clock=time.clock, sleep=sleep
    )
    assert [p.name for p in found] == ["load-ids-1.json", "load-ids-2.json"]
    assert time.sleeps == 3


def test_stops_waiting_at_the_deadline_with_what_is_there(tmp_path: Path) -> None:
    write_ids(tmp_path / "load-ids-1.json", 1_000, ["a"])
    time = FakeTime()
    found = collect_id_files(
        [str(tmp_path / "load-ids-*.json")], 2, 5, clock=time.clock, sleep=time.sleep
    )
    assert [p.name for p in found] == ["load-ids-1.json"]
    assert time.now >= 5


def test_a_late_file_is_waited_for_and_the_verdict_counts_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ids(tmp_path / "load-ids-1.json", 1_000, ["a", "b"], answered_202=2)
    late = threading.Timer(
        0.3, write_ids, (tmp_path / "load-ids-2.json", 900, ["c"]), {"answered_202": 1}
    )
    late.start()
    try:
        argv = ["--expect-files", "2", "--files-wait-s", "30", str(tmp_path / "load-ids-*.json")]
        code, out = run(argv, capsys, all_in_order)
    finally:
        late.cancel()
    assert code == 0
    assert "id files read: 2 of 2 expected" in out
    assert f"{tmp_path / 'load-ids-2.json'}: 1 ids, 1 answers 202" in out
    assert "accepted 3 (Locust counted 3 answers 202)  lost 0  duplicated 0" in out


def test_202s_the_generator_kept_no_id_for_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_ids(tmp_path / "load-ids-1.json", 1_000, ["a", "b"], answered_202=3)
    code, out = run([str(tmp_path / "load-ids-1.json")], capsys, all_in_order)
    assert code == 1
    assert "accepted 2 (Locust counted 3 answers 202)  lost 0" in out
    assert "UNCHECKED: 1 sign-up(s) answered 202 left no id in the files" in out


def test_the_bench_file_without_a_202_count_still_reconciles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "accepted-ids.json"
    write_ids(path, 1_000, ["a"])
    code, out = run([str(path)], capsys, all_in_order)
    assert code == 0
    assert "accepted 1  lost 0  duplicated 0" in out
