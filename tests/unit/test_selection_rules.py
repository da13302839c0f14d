"""Selection rules over several waves: carry-over, selected at most once, returned seats, lists."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.selection.draw import draw
from services.selection.service import (
    ListRow,
    PoolMember,
    RowError,
    Wave,
    WaveError,
    check_can_close,
    check_seed,
    eligible_for_wave,
    parse_list_rows,
    require_state,
    revocation_due,
    tier_for,
    wave_quotas,
)

T0 = datetime(2020, 4, 11, tzinfo=UTC)
SEED_A = "a1" * 32
SEED_B = "b2" * 32


def test_tiers_follow_the_published_rule() -> None:
    assert tier_for(on_labour_list=True, on_social_aid_list=True, declares_social_aid=True) == 1
    assert tier_for(on_labour_list=False, on_social_aid_list=False, declares_social_aid=False) == 2
    assert tier_for(on_labour_list=False, on_social_aid_list=True, declares_social_aid=False) == 3
    # Saying so at sign-up counts even when the official list missed the person.
    assert tier_for(on_labour_list=False, on_social_aid_list=False, declares_social_aid=True) == 3


people = st.lists(
    st.tuples(
        st.uuids(version=4).map(str),
        st.sampled_from(["11", "32", "35"]),
        st.sampled_from([1, 2, 3]),
        st.integers(min_value=0, max_value=40),  # verified this many days after T0
    ),
    min_size=1,
    max_size=120,
    unique_by=lambda p: p[0],
)


@settings(max_examples=60, deadline=None)
@given(people=people, seats=st.integers(min_value=0, max_value=30))
def test_over_three_weekly_waves_nobody_is_selected_twice_and_the_rest_carry_over(
    people: list[tuple[str, str, int, int]], seats: int
) -> None:
    pool = {
        rid: PoolMember(rid, province, tier, T0 + timedelta(days=day))
        for rid, province, tier, day in people
    }
    selected_in: dict[str, int] = {}
    for wave in (1, 2, 3):
        cutoff = T0 + timedelta(days=7 * wave)
        entries = eligible_for_wave(pool.values(), cutoff)
        # Everyone verified by the cut-off and not yet selected is in, including the waitlisted.
        expected = {
            rid for rid, m in pool.items() if m.verified_at <= cutoff and rid not in selected_in
        }
        assert {e.registration_id for e in entries} == expected
        result = draw(entries, {"11": seats // 3, "32": seats // 3}, seats, SEED_A)
        for outcome in result.outcomes:
            if outcome.outcome == "selected":
                assert outcome.registration_id not in selected_in
                selected_in[outcome.registration_id] = wave
                pool[outcome.registration_id] = replace(
                    pool[outcome.registration_id], state="selected"
                )
        assert result.selected == min(seats, len(entries))


def test_a_registration_verified_after_the_cut_off_waits_for_the_next_wave() -> None:
    early = PoolMember(str(uuid.uuid4()), "32", 2, T0)
    late = PoolMember(str(uuid.uuid4()), "32", 2, T0 + timedelta(days=7, seconds=1))
    wave_1 = eligible_for_wave([early, late], T0 + timedelta(days=7))
    wave_2 = eligible_for_wave([early, late], T0 + timedelta(days=14))
    assert [e.registration_id for e in wave_1] == [early.registration_id]
    assert {e.registration_id for e in wave_2} == {early.registration_id, late.registration_id}


def test_revoked_people_are_never_eligible_again() -> None:
    revoked = PoolMember(str(uuid.uuid4()), "32", 1, T0, state="revoked")
    assert eligible_for_wave([revoked], T0 + timedelta(days=365)) == []


@settings(deadline=None)  # a loaded CI machine can miss Hypothesis' default 200 ms deadline
@given(
    base=st.dictionaries(st.sampled_from(["11", "32", "35", "94"]), st.integers(0, 1000)),
    returned=st.dictionaries(st.sampled_from(["11", "32", "35", "94"]), st.integers(0, 50)),
    extra=st.integers(0, 100),
)
def test_revoked_seats_return_to_their_province_and_to_the_total(
    base: dict[str, int], returned: dict[str, int], extra: int
) -> None:
    total = sum(base.values()) + extra
    quotas, new_total = wave_quotas(base, total, returned)
    assert new_total == total + sum(returned.values())
    for province in set(base) | set(returned):
        assert quotas[province] == base.get(province, 0) + returned.get(province, 0)


def test_revocation_is_due_after_the_confirmation_window() -> None:
    announced = T0
    assert not revocation_due(announced, 30, T0 + timedelta(days=29, hours=23))
    assert revocation_due(announced, 30, T0 + timedelta(days=30))


def _wave(number: int, state: str, **kw: object) -> Wave:
    return Wave(
        number=number,
        opens_at=T0,
        closes_at=T0 + timedelta(days=7),
        base_quotas={"32": 1},
        base_total=1,
        returned_seats={},
        state=state,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def test_the_life_cycle_is_open_closed_drawn_announced() -> None:
    assert require_state(_wave(1, "open"), "close") == "closed"
    assert require_state(_wave(1, "closed"), "draw") == "drawn"
    assert require_state(_wave(1, "drawn"), "announce") == "announced"
    with pytest.raises(WaveError, match="wave 1 is open; draw needs a wave that is closed"):
        require_state(_wave(1, "open"), "draw")
    with pytest.raises(WaveError, match="announced"):
        require_state(_wave(1, "announced"), "close")


def test_a_wave_cannot_close_while_another_is_closed_and_undrawn() -> None:
    wave_2 = _wave(2, "open")
    with pytest.raises(WaveError, match="wave 1 is closed but not drawn yet"):
        check_can_close(wave_2, [_wave(1, "closed"), wave_2])
    with pytest.raises(WaveError, match="close wave 1 first"):
        check_can_close(wave_2, [_wave(1, "open"), wave_2])
    check_can_close(wave_2, [_wave(1, "announced"), wave_2])


def test_only_the_committed_seed_can_draw() -> None:
    from services.selection.draw import seed_commitment

    wave = _wave(1, "closed", seed_commitment=seed_commitment(SEED_A))
    assert check_seed(wave, SEED_A.upper()) == SEED_A
    with pytest.raises(WaveError) as refused:
        check_seed(wave, SEED_B)
    assert refused.value.code == "seed_mismatch"
    with pytest.raises(WaveError) as bad:
        check_seed(wave, "not hex")
    assert bad.value.code == "seed_invalid"


def _hash(nik: str) -> str:
    return f"h:{nik}"


def test_a_labour_office_list_with_good_and_bad_rows() -> None:
    lines = [
        "NIK,Status",
        "3275011705900001,laid_off",
        "3275011705900002,FURLOUGHED",
        "32750117059000,laid_off",  # too short
        "3275011705900003,retired",
        "3275011705900001,furloughed",  # same NIK again
        "",
        "3275011705900004",
    ]
    rows = list(parse_list_rows("labour_office", lines, _hash))
    good = [r for r in rows if isinstance(r, ListRow)]
    errors = [r for r in rows if isinstance(r, RowError)]
    assert good == [
        ListRow("h:3275011705900001", "laid_off"),
        ListRow("h:3275011705900002", "furloughed"),
    ]
    assert [(e.line, e.code) for e in errors] == [
        (4, "nik_format"),
        (5, "status_invalid"),
        (6, "nik_duplicate_in_file"),
        (8, "csv_row_width"),
    ]


def test_a_list_without_the_required_column_is_refused_at_the_header() -> None:
    rows = list(parse_list_rows("labour_office", ["nik", "3275011705900001"], _hash))
    assert rows == [RowError(1, "csv_missing_column", "missing column(s): status")]
    assert list(parse_list_rows("social_aid", [], _hash)) == [
        RowError(1, "csv_empty", "the file is empty")
    ]
