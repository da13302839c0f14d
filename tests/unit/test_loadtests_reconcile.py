"""Reconciliation arithmetic: what counts as lost and what counts as duplicated."""

from __future__ import annotations

import json

from loadtests.reconcile import reconcile, registration_id_of


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
