"""The duplicate check's verdict: repeats past the edge must be refused by the log, and left alone
downstream."""

from __future__ import annotations

from loadtests.duplicates import (
    Row,
    classify,
    email_registration_id,
    maildir_stamp,
    sms_registration_id,
)
from loadtests.repeats import RepeatAnswer

RID = "0b9e5c8e-2f47-4c4e-9d0a-5b1f2a3c4d5e"


def _past(rid: str, original: str = "orig") -> RepeatAnswer:
    return RepeatAnswer(original, 0.0, 202, rid, None)


ORIGINAL = Row("submitted", duplicate=False)
REFUSED = Row("rejected", duplicate=True)


def test_edge_refusals_are_counted_and_prove_nothing_on_their_own() -> None:
    answers = [RepeatAnswer("orig", 0.0, 409, None, None)] * 3 + [
        RepeatAnswer("orig", 0.0, 503, None, None)
    ]
    check = classify(answers, {}, {})
    assert (check.repeats_sent, check.repeats_refused_at_edge) == (4, 3)
    assert check.repeats_statuses == {"409": 3, "503": 1}
    assert check.duplicates_past_edge == 0
    assert check.verdict == "proved nothing"


def test_a_duplicate_past_the_edge_that_the_log_refused_and_nothing_acted_on_passes() -> None:
    rows = {"a": REFUSED, "orig": ORIGINAL}
    check = classify([_past("a")], rows, {"verification_cases": set(), "selection_pool": set()})
    assert check.duplicates_past_edge == 1
    assert check.duplicates_refused_by_log == 1
    assert (check.duplicates_past_edge_not_refused, check.duplicates_downstream) == (0, 0)
    assert check.stores_checked == ["verification_cases", "selection_pool"]
    assert check.verdict == "passed"


def test_a_duplicate_the_log_did_not_refuse_fails() -> None:
    rows = {"a": Row("submitted", duplicate=False), "orig": ORIGINAL}
    check = classify([_past("a"), _past("b")], rows, {})  # b: no read-model row at all
    assert check.duplicates_past_edge_not_refused == 2
    assert check.not_refused_ids == ["a", "b"]
    assert check.verdict == "FAILED"


def test_a_refused_duplicate_with_a_case_or_a_message_fails() -> None:
    rows = {"a": REFUSED, "b": REFUSED, "c": REFUSED, "orig": ORIGINAL}
    downstream = {"verification_cases": {"a"}, "selection_pool": set(), "email": {"a", "b"}}
    check = classify([_past("a"), _past("b"), _past("c")], rows, downstream)
    assert check.duplicates_refused_by_log == 3
    assert check.duplicates_downstream == 2
    assert check.downstream_ids == ["a", "b"]
    assert check.duplicates_downstream_by_store == {
        "verification_cases": 1,
        "selection_pool": 0,
        "email": 2,
    }
    assert check.verdict == "FAILED"


def test_a_repeat_of_a_rejected_registration_is_excused_not_judged() -> None:
    rows = {"a": Row("submitted", duplicate=False), "orig": Row("rejected", duplicate=False)}
    check = classify([_past("a")], rows, {"verification_cases": {"a"}})
    assert (check.duplicates_past_edge_excused, check.duplicates_past_edge_not_refused) == (1, 0)
    assert check.duplicates_downstream == 0
    assert check.verdict == "passed"


def test_an_original_refused_as_a_duplicate_excuses_nothing() -> None:
    # Its NIK was held already (an earlier run): the repeat must be a duplicate as well.
    rows = {"a": Row("submitted", duplicate=False), "orig": REFUSED}
    check = classify([_past("a")], rows, {})
    assert (check.duplicates_past_edge_excused, check.duplicates_past_edge_not_refused) == (0, 1)


def test_ids_are_compared_in_lower_case() -> None:
    check = classify([_past(RID.upper(), "ORIG")], {RID: REFUSED, "orig": ORIGINAL}, {})
    assert check.duplicates_refused_by_log == 1


def test_the_report_has_the_verdict_and_every_count() -> None:
    summary = classify([_past("a")], {"a": REFUSED}, {}).summary()
    assert summary["duplicate_check"] == "passed"
    for key in (
        "repeats_sent",
        "repeats_refused_at_edge",
        "duplicates_past_edge",
        "duplicates_past_edge_not_refused",
        "duplicates_downstream",
        "duplicates_not_refused_ids",
        "duplicates_downstream_ids",
    ):
        assert key in summary


def test_an_email_is_attributed_by_its_message_id() -> None:
    head = (
        b"From: noreply@example.id\r\nTo: warga.1@example.id\r\n"
        b"Message-ID: <" + RID.encode() + b".0@gelombang>\r\n\r\nHalo"
    )
    assert email_registration_id(head) == RID
    wave = b"message-id: <" + RID.upper().encode() + b".wave3@gelombang>\n\n"
    assert email_registration_id(wave) == RID
    # Only the headers count: an id in the body is not a Message-ID.
    body_only = b"Subject: x\r\n\r\nMessage-ID: <" + RID.encode() + b".0@gelombang>"
    assert email_registration_id(body_only) is None
    assert email_registration_id(b"Message-ID: <not-ours@example>\r\n\r\n") is None


def test_an_sms_is_attributed_by_its_client_ref() -> None:
    assert sms_registration_id(f"{RID}:0123456789abcdef") == RID
    # A wave decision's reference is its event id: no registration id to read.
    assert sms_registration_id(RID) is None
    assert sms_registration_id("hello:world") is None


def test_maildir_names_from_the_stamp_on_are_newer() -> None:
    stamp = maildir_stamp(1_700_000_000_000)
    assert stamp.startswith("20231114T")
    assert "20231114T230000.000000Z-ab.eml" > stamp > "20231114T200000.000000Z-ab.eml"
