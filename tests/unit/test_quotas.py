from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gelombang import regions
from services.selection.quotas import (
    QuotaFileError,
    load_quota_csv,
    load_weights,
    proportional_quotas,
)

modest = settings(max_examples=100, deadline=None)
codes = st.sampled_from(["11", "12", "31", "32", "33", "35", "91", "96"])


@modest
@given(
    st.integers(0, 1_000_000),
    st.dictionaries(codes, st.integers(0, 10**8) | st.floats(0, 1e8), min_size=1),
)
def test_hamilton_sums_exactly_to_the_total(total: int, weights: dict[str, float]) -> None:
    if sum(weights.values()) == 0:
        return
    quotas = proportional_quotas(total, weights)
    assert sum(quotas.values()) == total
    assert set(quotas) == set(weights)
    weight_sum = sum(weights.values())
    for code, seats in quotas.items():
        # Hamilton never strays more than one seat from the exact share.
        assert abs(seats - total * weights[code] / weight_sum) < 1 + 1e-6


def test_ties_go_to_the_lower_province_code_whatever_the_mapping_order() -> None:
    assert proportional_quotas(1, {"35": 1, "32": 1, "33": 1}) == {"32": 1, "33": 0, "35": 0}
    assert proportional_quotas(2, {"35": 1, "33": 1, "32": 1}) == {"32": 1, "33": 1, "35": 0}
    assert proportional_quotas(10, {"32": 3, "33": 1}) == {"32": 8, "33": 2}  # 7.5 vs 2.5


def test_largest_remainder_wins_over_province_code() -> None:
    # Exact shares 3.3, 3.3, 3.4: the spare seat goes to 35, the largest remainder.
    assert proportional_quotas(10, {"11": 33, "12": 33, "35": 34}) == {"11": 3, "12": 3, "35": 4}


@pytest.mark.parametrize(
    ("total", "weights", "message"),
    [
        (-1, {"32": 1}, "non-negative"),
        (10, {"32": 0}, "positive weight"),
        (10, {"32": -1}, "negative"),
        (10, {"32": float("nan")}, "finite"),
    ],
)
def test_bad_arguments(total: int, weights: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        proportional_quotas(total, weights)


def test_the_shipped_weight_table_covers_exactly_todays_provinces() -> None:
    weights = load_weights()
    assert set(weights) == set(regions.provinces())
    assert len(weights) == 38
    assert all(weight > 0 for weight in weights.values())
    # The 2022 Papua split keeps the census total: SP2020 counted 270,203,917 people.
    assert sum(weights.values()) == 270_203_917
    assert max(weights, key=weights.__getitem__) == "32"  # Jawa Barat
    quotas = proportional_quotas(164_000, weights)
    assert sum(quotas.values()) == 164_000
    assert all(seats > 0 for seats in quotas.values())


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "quotas.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_quota_file(tmp_path: Path) -> None:
    path = write(tmp_path, "province_code,quota\n35,543\n32,600\n\n31,0\n")
    assert load_quota_csv(path) == {"31": 0, "32": 600, "35": 543}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code,quota\n32,1\n", ":1: header must be exactly"),
        ("", ":1: header must be exactly"),
        ("province_code,quota\n32,1\n99,5\n", ":3: unknown province code '99'"),
        ("province_code,quota\n32,1\n32,5\n", ":3: province 32 already given on line 2"),
        ("province_code,quota\n32,-1\n", ":2: quota '-1' is not a non-negative whole number"),
        ("province_code,quota\n32,1.5\n", ":2: quota '1.5'"),
        ("province_code,quota\n32\n", ":2: expected 2 fields, got 1"),
        ("province_code,quota\n32,1,2\n", ":2: expected 2 fields, got 3"),
    ],
)
def test_bad_quota_files_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(QuotaFileError, match=message):
        load_quota_csv(write(tmp_path, text))
