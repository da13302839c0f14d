"""The draw fed columns (``EligibleList``, as the database hands the list over) gives exactly what
it gives for a list of entries, and the faster canonical list is byte for byte the published one.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import subprocess
import sys
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.selection.cli import result_csv
from services.selection.draw import DrawResult, draw
from services.selection.eligible_list import (
    EligibleEntry,
    EligibleList,
    canonical_eligible,
    canonical_sha256,
    eligible_from_canonical,
    eligible_sha256,
    frozen_list_sha256,
    validate_entries,
)
from services.selection.ranking import _HELPER_COMMAND, draw_key, rank, rank_ids, ranks
from tests.unit.draw_inputs import eligible_entries, seeds
from tests.unit.test_draw_worked_example import ELIGIBLE, MANIFEST, RESULT, entries_of

PROVINCES = ["11", "31", "32", "35", "94", "96"]
SEED = "00" * 31 + "01"

entry_lists = eligible_entries(PROVINCES, max_size=60)
beacons = st.none() | st.text(min_size=1, max_size=20)
modest = settings(max_examples=150, deadline=None)


def columns_of(entries: list[EligibleEntry]) -> EligibleList:
    return EligibleList(
        [e.registration_id for e in entries],
        [e.province_code for e in entries],
        [e.tier for e in entries],
    )


def reference_canonical(entries: list[EligibleEntry]) -> bytes:
    """The README's definition, written out plainly (what canonical_eligible did before)."""
    lines = [f"{e.registration_id},{e.province_code},{e.tier}" for e in sorted(entries)]
    return "\n".join(lines).encode("ascii")


def reference_rank(seed_hex: str, registration_id: str, beacon: str | None) -> str:
    key = bytes.fromhex(seed_hex)
    if beacon is not None:
        key = hmac.new(key, beacon.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, registration_id.encode("ascii"), hashlib.sha256).hexdigest()


def as_rows(result: DrawResult) -> list[tuple[object, ...]]:
    return sorted(tuple(o) for o in result.outcomes)


@modest
@given(entry_lists, st.booleans(), seeds, beacons, st.integers(0, 12), st.integers(0, 5))
def test_columns_draw_exactly_what_entries_draw(
    entries: list[EligibleEntry],
    in_id_order: bool,
    seed: str,
    beacon: str | None,
    per_province: int,
    extra: int,
) -> None:
    if in_id_order:
        entries = sorted(entries)
    quotas = {code: per_province for code in PROVINCES[:4]}
    total = sum(quotas.values()) + extra
    from_entries = draw(entries, quotas, total, seed, beacon_value=beacon)
    from_columns = draw(columns_of(entries), quotas, total, seed, beacon_value=beacon)
    assert as_rows(from_columns) == as_rows(from_entries)
    assert from_columns.outcomes == from_entries.outcomes  # same order too: the input's
    assert (from_columns.selected, from_columns.selected_by_province) == (
        from_entries.selected,
        from_entries.selected_by_province,
    )
    # Ranks are still the stdlib HMAC's, bit for bit.
    for outcome in from_columns.outcomes:
        assert outcome.rank == reference_rank(seed, outcome.registration_id, beacon)


@modest
@given(entry_lists, st.booleans())
def test_the_canonical_list_is_the_readme_definition(
    entries: list[EligibleEntry], in_id_order: bool
) -> None:
    if in_id_order:
        entries = sorted(entries)
    expected = reference_canonical(entries)
    assert canonical_eligible(entries) == expected
    assert canonical_eligible(columns_of(entries)) == expected  # sorted or not
    assert eligible_sha256(columns_of(entries)) == hashlib.sha256(expected).hexdigest()
    assert validate_entries(columns_of(entries)) == sorted(entries)


def test_a_large_list_hashes_the_same_both_ways() -> None:
    rng = random.Random(19)
    entries = [
        EligibleEntry(str(uuid.UUID(int=rng.getrandbits(128), version=4)), code, tier)
        for code, tier in zip(
            rng.choices(PROVINCES, k=20_000), rng.choices([1, 2, 3], k=20_000), strict=True
        )
    ]
    expected = reference_canonical(entries)
    assert canonical_eligible(columns_of(sorted(entries))) == expected
    assert canonical_eligible(entries) == expected


def test_the_worked_example_from_columns() -> None:
    entries = columns_of(entries_of(ELIGIBLE))
    assert canonical_eligible(entries) == ELIGIBLE
    result = draw(
        entries,
        MANIFEST["quotas"],
        MANIFEST["total_quota"],
        MANIFEST["seed"],
        beacon_value=MANIFEST["beacon_value"],
    )
    assert result_csv(result) == RESULT


ID = "00000000-0000-4000-8000-00000000000{}"


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        # In id order but the same id twice: strictly increasing fails, the set check names it.
        (([ID.format(1), ID.format(1)], ["32", "32"], [1, 1]), "more than once"),
        (([ID.format(2), ID.format(1), ID.format(2)], ["32"] * 3, [1] * 3), "more than once"),
        ((["0000000A-0000-4000-8000-000000000000"], ["32"], [1]), "lowercase UUID"),
        (([None, ID.format(1)], ["32", "32"], [1, 1]), "lowercase UUID"),
        (([ID.format(1)], ["3"], [1]), "2 digits"),
        (([ID.format(1)], ["32"], [4]), "1, 2 or 3"),
        (([ID.format(1)], ["32"], [True]), "1, 2 or 3"),
    ],
)
def test_bad_columns_are_rejected(
    columns: tuple[list[str], list[str], list[int]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        draw(EligibleList(*columns), {}, 1, SEED)
    with pytest.raises(ValueError, match=message):
        canonical_eligible(EligibleList(*columns))


@modest
@given(entry_lists)
def test_a_stored_canonical_list_reads_back_as_its_entries(entries: list[EligibleEntry]) -> None:
    canonical = canonical_eligible(entries)
    listed = eligible_from_canonical(canonical)
    assert listed == sorted(entries)
    assert canonical_eligible(listed) == canonical
    assert canonical_sha256(canonical) == eligible_sha256(entries)
    quotas = {"31": 2, "32": 1}
    assert draw(listed, quotas, 5, SEED).outcomes == draw(sorted(entries), quotas, 5, SEED).outcomes


def test_the_worked_example_reads_back_from_its_published_bytes() -> None:
    listed = eligible_from_canonical(ELIGIBLE)
    assert listed == entries_of(ELIGIBLE)
    assert canonical_sha256(ELIGIBLE) == MANIFEST["eligible_sha256"]


LINE_1 = ID.format(1) + ",32,1"
LINE_2 = ID.format(2) + ",11,3"


@pytest.mark.parametrize(
    ("canonical", "message"),
    [
        ((LINE_1 + "\n" + LINE_2 + "\n").encode(), "canonical"),  # a trailing newline
        (("registration_id,province_code,tier\n" + LINE_1).encode(), "canonical"),
        ((LINE_1 + "\r\n" + LINE_2).encode(), "canonical"),
        ((LINE_2 + "\n" + LINE_1).encode(), "rising order"),
        ((LINE_1 + "\n" + LINE_1).encode(), "more than once"),
        ((LINE_1.replace("00000000-", "0000000A-", 1)).encode(), "lowercase UUID"),
        ((LINE_1[:-1] + "4").encode(), "1, 2 or 3"),
        ((LINE_1[:-1]).encode() + b"\x01", "1, 2 or 3"),
        ((LINE_1.replace(",32,", ",3a,")).encode(), "2 digits"),
        ((LINE_1.replace(",32,", ',"3",')).encode(), "canonical"),
        ((LINE_1.replace("-8000-", "-80\u00e90-")).encode(), "canonical"),  # one more byte
        ((LINE_1.replace("-8000-", "-8\u00e900-")).encode("latin-1"), "ASCII"),
    ],
)
def test_bytes_that_are_not_a_canonical_list_are_refused(canonical: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        eligible_from_canonical(canonical)
    with pytest.raises(ValueError, match=message):
        canonical_sha256(canonical)
    if message not in ("rising order", "more than once"):  # the close leaves those to the key
        with pytest.raises(ValueError, match=message):
            frozen_list_sha256(canonical)


@pytest.mark.parametrize(
    ("canonical", "message"),
    [
        (((LINE_1 + "\n" + LINE_2)[:-1] + " ").encode(), "1, 2 or 3"),
        ((LINE_1 + "\n" + LINE_2.replace(",11,", ",1\n,")).encode(), "2 digits"),
        ((LINE_1.replace("-8000-", "-8000\n")).encode(), "lowercase UUID"),
        ((LINE_1.replace("-8000-", "-80g0-")).encode(), "lowercase UUID"),
        ((LINE_1.replace(",32,", ",\x003,")).encode(), "2 digits"),
    ],
)
def test_a_byte_out_of_place_anywhere_in_a_line_is_refused(canonical: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        eligible_from_canonical(canonical)
    with pytest.raises(ValueError, match=message):
        frozen_list_sha256(canonical)


@modest
@given(entry_lists)
def test_a_close_publishes_the_hash_of_the_list(entries: list[EligibleEntry]) -> None:
    canonical = canonical_eligible(entries)
    assert frozen_list_sha256(canonical) == eligible_sha256(entries)
    assert frozen_list_sha256(ELIGIBLE) == MANIFEST["eligible_sha256"]


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        EligibleList([ID.format(1)], [], [1])


def test_an_eligible_list_reads_like_the_list_it_replaces() -> None:
    entries = [EligibleEntry(ID.format(n), "32", 1 + n % 3) for n in range(5)]
    listed = columns_of(entries)
    assert len(listed) == 5
    assert listed[2] == entries[2] and isinstance(listed[2], EligibleEntry)
    assert listed[-1] == entries[-1]
    assert listed[1:3] == entries[1:3]
    assert list(listed) == entries
    assert listed == entries
    assert listed != entries[:4]
    assert repr(listed) == "EligibleList(5 entries)"
    assert EligibleList([], [], []) == []


def test_outcomes_as_rows_of_the_selected_and_the_selected_ids() -> None:
    entries = [EligibleEntry(ID.format(n), "32" if n % 2 else "31", 1 + n % 3) for n in range(8)]
    result = draw(entries, {"31": 1, "32": 2}, 4, SEED)
    selected = [o for o in result.outcomes if o.outcome == "selected"]
    assert list(result.outcomes.selected_rows(7)) == [
        (7, o.registration_id, o.province_code, o.tier, o.via) for o in selected
    ]
    assert [row[-1] for row in result.outcomes.selected_rows()] == [o.via for o in selected]
    assert result.outcomes.selected_ids() == [
        o.registration_id for o in result.outcomes if o.outcome == "selected"
    ]
    assert len(result.outcomes.selected_ids()) == result.selected == 4
    assert rank(SEED, ID.format(0)) == reference_rank(SEED, ID.format(0), None)
    ids = [ID.format(n) for n in range(8)]
    assert ranks(SEED, None, ids) == [o.rank for o in result.outcomes]
    assert ranks(SEED, "beacon", ids) == [reference_rank(SEED, i, "beacon") for i in ids]
    assert ranks(SEED, None, []) == []


def test_a_big_list_is_ranked_half_in_a_helper_process_with_the_same_ranks() -> None:
    key = draw_key(SEED, "beacon")
    ids = [str(uuid.UUID(int=random.Random(n).getrandbits(128), version=4)) for n in range(9)]
    reported: list[tuple[str, int, int]] = []
    ranked = rank_ids(key, ids, lambda *report: reported.append(report), split_from=2)
    assert list(ranked) == [reference_rank(SEED, i, "beacon") for i in ids]
    assert ranked[-1] == ranked[8] == reference_rank(SEED, ids[8], "beacon")
    assert ranked[2:4] == list(ranked)[2:4]
    assert reported[0] == ("ranking", 0, 9) and reported[-1] == ("ranking", 9, 9)


def test_the_helper_process_as_shipped_ranks_with_the_standard_library_alone() -> None:
    # rank_ids falls back to ranking here when the helper fails, with the same ranks: only the
    # helper run on its own shows that the two-core path works (an import outside the standard
    # library would break it under -I -S).
    key = draw_key(SEED, "beacon")
    ids = [ID.format(n) for n in range(5)]
    done = subprocess.run(
        _HELPER_COMMAND,
        input=key.hex().encode() + b"\n" + "\n".join(ids).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.hex() == "".join(reference_rank(SEED, i, "beacon") for i in ids)


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-c", "import sys; sys.exit(3)"],
        [sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'x' * 64)"],
        ["/nonexistent/python"],
    ],
    ids=["fails", "writes the wrong length", "cannot start"],
)
def test_ranks_are_computed_here_when_the_helper_process_does_not_give_them(
    command: list[str],
) -> None:
    key = draw_key(SEED, None)
    ids = [ID.format(n) for n in range(6)]
    ranked = rank_ids(key, ids, lambda *_: None, split_from=2, helper_command=command)
    assert list(ranked) == [reference_rank(SEED, i, None) for i in ids]
