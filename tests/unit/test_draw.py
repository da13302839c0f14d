import hashlib
import hmac
import random
import uuid
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.selection.draw import (
    ALGORITHM_VERSION,
    ALGORITHM_VERSION_V2,
    DrawResult,
    Outcome,
    draw,
    seed_commitment,
)
from services.selection.eligible_list import (
    REGISTRATION_ID,
    EligibleEntry,
    canonical_eligible,
    eligible_sha256,
    validate_entries,
)
from services.selection.ranking import rank
from tests.unit.draw_inputs import eligible_entries, seeds

PROVINCES = ["11", "31", "32", "35", "94"]
SEED = "00" * 31 + "01"
OTHER_SEED = "ff" * 32

entry_lists = eligible_entries(PROVINCES, max_size=40)
quota_maps = st.dictionaries(st.sampled_from(PROVINCES), st.integers(0, 8), max_size=5)

modest = settings(max_examples=100, deadline=None)


def reference_draw(
    entries: Sequence[EligibleEntry], quotas: Mapping[str, int], total: int, seed_hex: str
) -> dict[str, tuple[str, str | None]]:
    """Issue 4's wording, transcribed as literally as possible, with the stdlib hmac module."""

    def key(entry: EligibleEntry) -> tuple[int, str, str]:
        digest = hmac.new(bytes.fromhex(seed_hex), entry.registration_id.encode(), hashlib.sha256)
        return (entry.tier, digest.hexdigest(), entry.registration_id)

    chosen: dict[str, str] = {}
    for province in {e.province_code for e in entries}:
        in_province = sorted((e for e in entries if e.province_code == province), key=key)
        for entry in in_province[: quotas.get(province, 0)]:
            chosen[entry.registration_id] = "province"
    remainder = total - len(chosen)
    rest = sorted((e for e in entries if e.registration_id not in chosen), key=key)
    for entry in rest[:remainder]:
        chosen[entry.registration_id] = "remainder"
    return {
        e.registration_id: (
            ("selected", chosen[e.registration_id])
            if e.registration_id in chosen
            else ("waitlisted", None)
        )
        for e in entries
    }


def by_id(result: DrawResult) -> dict[str, Outcome]:
    return {outcome.registration_id: outcome for outcome in result.outcomes}


class Case(NamedTuple):
    """A draw's inputs, in ``draw``'s order."""

    entries: list[EligibleEntry]
    quotas: dict[str, int]
    total: int
    seed: str


@st.composite
def draws(draw_from: st.DrawFn) -> Case:
    entries = draw_from(entry_lists)
    quotas = draw_from(quota_maps)
    total = sum(quotas.values()) + draw_from(st.integers(0, 10))
    return Case(entries, quotas, total, draw_from(seeds))


@modest
@given(draws())
def test_the_draw_is_exactly_the_published_algorithm(case: Case) -> None:
    result = draw(*case)
    expected = reference_draw(*case)
    assert {o.registration_id: (o.outcome, o.via) for o in result.outcomes} == expected


@modest
@given(draws())
def test_quotas_are_never_exceeded_and_every_seat_that_can_be_filled_is(case: Case) -> None:
    result = draw(*case)
    for province in PROVINCES:
        via_province = [
            o for o in result.outcomes if o.province_code == province and o.via == "province"
        ]
        assert len(via_province) <= case.quotas.get(province, 0)
    assert result.selected == min(case.total, len(case.entries))
    assert result.selected + result.waitlisted == len(case.entries)
    assert sum(result.selected_by_province.values()) == result.selected
    assert sum(result.selected_by_tier.values()) == result.selected


@modest
@given(draws())
def test_within_a_province_a_lower_tier_never_beats_a_higher_one(case: Case) -> None:
    outcomes = draw(*case).outcomes
    for province in PROVINCES:
        won = [o for o in outcomes if o.province_code == province and o.via == "province"]
        lost = [o for o in outcomes if o.province_code == province and o.outcome == "waitlisted"]
        if won and lost:
            assert max(o.tier for o in won) <= min(o.tier for o in lost)
            # Within the same tier, the rank decides.
            for loser in lost:
                assert all((w.tier, w.rank) < (loser.tier, loser.rank) for w in won)


@modest
@given(draws())
def test_remainder_seats_go_in_global_tier_then_rank_order(case: Case) -> None:
    outcomes = draw(*case).outcomes
    remainder = [o for o in outcomes if o.via == "remainder"]
    waitlisted = [o for o in outcomes if o.outcome == "waitlisted"]
    if remainder and waitlisted:
        worst_winner = max((o.tier, o.rank) for o in remainder)
        best_loser = min((o.tier, o.rank) for o in waitlisted)
        assert worst_winner < best_loser


@modest
@given(draws(), st.randoms(use_true_random=False))
def test_same_seed_same_result_whatever_the_input_order(
    case: Case, shuffler: random.Random
) -> None:
    shuffled = list(case.entries)
    shuffler.shuffle(shuffled)
    first = draw(*case)
    again = draw(*case._replace(entries=shuffled))
    assert by_id(first) == by_id(again)
    assert first.selected_by_province == again.selected_by_province
    assert canonical_eligible(case.entries) == canonical_eligible(shuffled)


@modest
@given(
    st.lists(st.uuids(), min_size=20, max_size=40, unique=True),
    seeds,
    seeds,
)
def test_another_seed_gives_another_order(ids: list[object], seed: str, other: str) -> None:
    if seed == other:
        return
    entries = [EligibleEntry(str(u), "32", 3) for u in ids]

    def order(seed_hex: str) -> list[str]:
        outcomes = draw(entries, {}, 0, seed_hex).outcomes
        return [o.registration_id for o in sorted(outcomes, key=lambda o: o.rank)]

    # 20! orders: the chance two seeds agree is nil, so a failure here is a real bug.
    assert order(seed) != order(other)


def test_a_tiny_draw_computed_by_hand() -> None:
    # Ranks computed here with the stdlib, independently of draw.py.
    def hand_rank(registration_id: str) -> str:
        key = bytes.fromhex(SEED)
        return hmac.new(key, registration_id.encode("ascii"), hashlib.sha256).hexdigest()

    a = EligibleEntry("00000000-0000-4000-8000-00000000000a", "32", 2)
    b = EligibleEntry("00000000-0000-4000-8000-00000000000b", "32", 2)
    c = EligibleEntry("00000000-0000-4000-8000-00000000000c", "32", 3)
    d = EligibleEntry("00000000-0000-4000-8000-00000000000d", "31", 1)
    ranks = {e.registration_id: hand_rank(e.registration_id) for e in (a, b, c, d)}
    assert ranks[a.registration_id] == rank(SEED, a.registration_id)

    # Province 32 has 1 seat and two tier-2 people: the lower rank wins it. Province 31 has no
    # quota, so d (tier 1) can only win through the remainder, and does, ahead of any tier 2.
    result = draw([c, d, b, a], {"32": 1}, 2, SEED)
    first_32, second_32 = sorted((a, b), key=lambda e: ranks[e.registration_id])
    expected = {
        first_32.registration_id: ("selected", "province"),
        d.registration_id: ("selected", "remainder"),
        second_32.registration_id: ("waitlisted", None),
        c.registration_id: ("waitlisted", None),
    }
    assert {o.registration_id: (o.outcome, o.via) for o in result.outcomes} == expected
    assert by_id(result)[d.registration_id].rank == ranks[d.registration_id]
    assert result.remainder_seats == 1
    assert result.selected_by_province == {"31": 1, "32": 1}
    assert result.selected_by_tier == {1: 1, 2: 1, 3: 0}
    assert [o.registration_id for o in result.outcomes] == [
        c.registration_id,
        d.registration_id,
        b.registration_id,
        a.registration_id,
    ]  # outcomes keep the input order


def test_pinned_values_do_not_drift() -> None:
    # Published draws must stay verifiable with later versions of this code.
    assert ALGORITHM_VERSION == "gelombang-draw-v1"
    assert ALGORITHM_VERSION_V2 == "gelombang-draw-v2"
    assert seed_commitment(SEED) == hashlib.sha256(SEED.encode("ascii")).hexdigest()
    assert seed_commitment(SEED.upper()) == seed_commitment(SEED)
    assert (
        rank(SEED, "00000000-0000-4000-8000-00000000000a")
        == hmac.new(
            bytes.fromhex(SEED), b"00000000-0000-4000-8000-00000000000a", hashlib.sha256
        ).hexdigest()
    )


@modest
@given(seeds, st.text(alphabet="0123456789abcdef-", max_size=80))
def test_precomputed_hmac_equals_the_stdlib_hmac(seed: str, message: str) -> None:
    expected = hmac.new(bytes.fromhex(seed), message.encode("ascii"), hashlib.sha256).hexdigest()
    assert rank(seed, message) == expected


def test_canonical_list_is_sorted_lowercase_without_header_or_trailing_newline() -> None:
    entries = [
        EligibleEntry("ffffffff-0000-4000-8000-000000000000", "35", 3),
        EligibleEntry("00000000-0000-4000-8000-000000000000", "11", 1),
    ]
    assert canonical_eligible(entries) == (
        b"00000000-0000-4000-8000-000000000000,11,1\nffffffff-0000-4000-8000-000000000000,35,3"
    )
    assert canonical_eligible([]) == b""
    assert eligible_sha256(entries) == hashlib.sha256(canonical_eligible(entries)).hexdigest()


@modest
@given(entry_lists.filter(bool), st.data())
def test_changing_any_row_changes_the_hash(
    entries: list[EligibleEntry], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(entries) - 1))
    original = entries[index]
    changed = list(entries)
    changed[index] = original._replace(tier=original.tier % 3 + 1)
    assert eligible_sha256(changed) != eligible_sha256(entries)
    changed[index] = original._replace(province_code="33")
    assert eligible_sha256(changed) != eligible_sha256(entries)
    assert eligible_sha256(entries[:index] + entries[index + 1 :]) != eligible_sha256(entries)


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([EligibleEntry("0000000A-0000-4000-8000-000000000000", "32", 1)], "lowercase UUID"),
        ([EligibleEntry("not-a-uuid", "32", 1)], "lowercase UUID"),
        (  # one id a character short, the next one long: together the length of two ids
            [
                EligibleEntry("00000000-0000-4000-8000-00000000000", "32", 1),
                EligibleEntry("a00000000-0000-4000-8000-000000000000", "32", 1),
            ],
            "lowercase UUID",
        ),
        (
            [EligibleEntry("00000000-0000-4000-8000-000000000000", "32", 1)] * 2,
            "more than once",
        ),
        ([EligibleEntry("00000000-0000-4000-8000-000000000000", "3", 1)], "2 digits"),
        ([EligibleEntry("00000000-0000-4000-8000-000000000000", "32", 4)], "1, 2 or 3"),
        ([EligibleEntry("00000000-0000-4000-8000-000000000000", "32", True)], "1, 2 or 3"),
    ],
)
def test_bad_entries_are_rejected(entries: list[EligibleEntry], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        draw(entries, {}, 1, SEED)
    with pytest.raises(ValueError, match=message):
        canonical_eligible(entries)


@st.composite
def near_ids(draw_from: st.DrawFn) -> str:
    """A canonical id, or one with a character replaced, inserted or removed, or two ids in one."""
    text = str(draw_from(st.uuids()))
    kind = draw_from(st.sampled_from(["keep", "replace", "insert", "delete", "two"]))
    if kind == "two":
        return text + draw_from(st.sampled_from(["\n", ",", ""])) + str(draw_from(st.uuids()))
    at = draw_from(st.integers(0, len(text) - 1))
    char = draw_from(st.sampled_from(list("09af-AFg\n {}\u00e9")))
    if kind == "replace":
        return text[:at] + char + text[at + 1 :]
    if kind == "insert":
        return text[:at] + char + text[at:]
    if kind == "delete":
        return text[:at] + text[at + 1 :]
    return text


@modest
@given(st.lists(near_ids(), min_size=1, max_size=6, unique=True))
def test_ids_are_accepted_exactly_when_each_matches_the_pattern(ids: list[str]) -> None:
    # The draw checks all ids at once on their joined text; this pins it to the per-id pattern.
    entries = [EligibleEntry(registration_id, "32", 1) for registration_id in ids]
    if all(REGISTRATION_ID.fullmatch(registration_id) for registration_id in ids):
        assert [e.registration_id for e in validate_entries(entries)] == sorted(ids)
    else:
        with pytest.raises(ValueError, match="lowercase UUID"):
            validate_entries(entries)


def test_a_province_that_cannot_fill_its_quota_leaves_the_rest_to_the_remainder() -> None:
    # The provincial pass stops once every seat it can give is given; a quota larger than the
    # province, and a quota for a province with nobody in it, must not change who wins.
    rng = random.Random(5)
    entries = [
        EligibleEntry(str(uuid.UUID(int=rng.getrandbits(128), version=4)), province, tier)
        for province, tier in zip(
            rng.choices(["11", "31", "32"], weights=[1, 30, 30], k=600),
            rng.choices([1, 2, 3], k=600),
            strict=True,
        )
    ]
    quotas = {"11": 50, "31": 40, "32": 45, "94": 7}
    result = draw(entries, quotas, 200, SEED)
    assert {o.registration_id: (o.outcome, o.via) for o in result.outcomes} == reference_draw(
        entries, quotas, 200, SEED
    )
    in_11 = sum(e.province_code == "11" for e in entries)
    assert in_11 < 50
    assert result.selected_by_province["11"] == in_11
    assert result.selected_by_province["94"] == 0


@pytest.mark.parametrize(
    ("quotas", "total", "seed", "message"),
    [
        ({"32": 5}, 4, SEED, "more than total_quota"),
        ({"32": -1}, 4, SEED, "non-negative"),
        ({"3x": 1}, 4, SEED, "2 digits"),
        ({}, -1, SEED, "non-negative"),
        ({}, 1, "ab" * 31, "64 hexadecimal"),
        ({}, 1, "zz" * 32, "64 hexadecimal"),
    ],
)
def test_bad_quotas_and_seeds_are_rejected(
    quotas: dict[str, int], total: int, seed: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        draw([], quotas, total, seed)


def test_unfilled_and_unassigned_seats_form_the_national_remainder() -> None:
    entries = [EligibleEntry(f"00000000-0000-4000-8000-{n:012d}", "32", 3) for n in range(5)]
    # 35 has 3 seats and nobody; 2 more seats were never assigned to a province.
    result = draw(entries, {"32": 1, "35": 3}, 6, SEED)
    assert result.remainder_seats == 5
    assert result.selected == 5
    assert result.selected_by_province == {"32": 5, "35": 0}
    assert sum(o.via == "province" for o in result.outcomes) == 1


def test_progress_is_reported_at_each_stage() -> None:
    calls: list[tuple[str, int, int]] = []
    entries = [EligibleEntry(f"00000000-0000-4000-8000-{n:012d}", "32", 3) for n in range(3)]
    draw(entries, {"32": 1}, 2, SEED, progress=lambda *call: calls.append(call))
    stages = [stage for stage, _, _ in calls]
    assert stages[0] == "ranking"
    assert stages[-1] == "remainder"
    assert {"sorting", "province"} <= set(stages)
    assert ("ranking", 3, 3) in calls
    assert ("remainder", 1, 1) in calls


def v2_reference_rank(seed_hex: str, beacon_value: str, registration_id: str) -> str:
    """Issue 19's wording with the stdlib: draw_key = HMAC(seed, beacon), rank = HMAC(key, id)."""
    key = hmac.new(bytes.fromhex(seed_hex), beacon_value.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, registration_id.encode("ascii"), hashlib.sha256).hexdigest()


@modest
@given(draws(), st.text(min_size=1, max_size=40))
def test_v2_ranks_with_the_beacon_mixed_into_the_key(case: Case, beacon: str) -> None:
    result = draw(*case, beacon_value=beacon)
    for outcome in result.outcomes:
        assert outcome.rank == v2_reference_rank(case.seed, beacon, outcome.registration_id)
    # Everything but the key is v1: the v1 reference draw keyed with the v2 draw key agrees.
    key = hmac.new(bytes.fromhex(case.seed), beacon.encode("utf-8"), hashlib.sha256).hexdigest()
    expected = reference_draw(*case._replace(seed=key))
    assert {o.registration_id: (o.outcome, o.via) for o in result.outcomes} == expected


def test_v2_depends_on_the_beacon_value() -> None:
    registration_id = "00000000-0000-4000-8000-00000000000a"
    assert rank(SEED, registration_id, "round 1") != rank(SEED, registration_id, "round 2")
    assert rank(SEED, registration_id, "round 1") == v2_reference_rank(
        SEED, "round 1", registration_id
    )
    assert rank(SEED, registration_id) != rank(SEED, registration_id, "")


def test_outcomes_read_like_the_tuple_they_replace() -> None:
    entries = [EligibleEntry(f"00000000-0000-4000-8000-{n:012d}", "32", 2) for n in range(5)]
    outcomes = draw(entries, {"32": 2}, 3, SEED).outcomes
    as_tuple = tuple(outcomes)
    assert len(outcomes) == 5
    assert outcomes == as_tuple
    assert [outcomes[i] for i in range(-5, 5)] == list(as_tuple * 2)
    assert outcomes[1:4] == as_tuple[1:4]
    assert all(type(o) is Outcome for o in outcomes)
    assert [o.outcome for o in outcomes].count("selected") == 3
    assert outcomes != as_tuple[:4]
