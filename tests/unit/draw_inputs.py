"""Hypothesis strategies for what the draw is fed: seeds and lists of eligible entries."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from services.selection.eligible_list import EligibleEntry

seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)


def eligible_entries(
    provinces: Sequence[str], max_size: int
) -> st.SearchStrategy[list[EligibleEntry]]:
    """Lists of distinct registrations, each in one of ``provinces`` with a tier of 1 to 3."""
    return st.lists(
        st.tuples(st.uuids(), st.sampled_from(provinces), st.integers(1, 3)),
        max_size=max_size,
        unique_by=lambda row: row[0],
    ).map(lambda rows: [EligibleEntry(str(u), p, t) for u, p, t in rows])
