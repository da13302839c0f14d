"""The eligible list of a wave draw: its entries, their checks, and the canonical list that is
published as ``eligible.csv`` and hashed (``registration_id,province_code,tier`` lines sorted by
id), both ways: made from entries and read back from its bytes.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from itertools import islice
from typing import NamedTuple, NoReturn, TypeVar, overload

TIERS: tuple[int, ...] = (1, 2, 3)

# Registration ids are UUIDs. Only the canonical 8-4-4-4-12 lowercase form is accepted, so that the
# bytes fed to the HMAC and written to the published list cannot differ between two re-runs that
# spelled the same id differently (upper case, braces, no dashes).
REGISTRATION_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII
)
PROVINCE_CODE = re.compile(r"[0-9]{2}", re.ASCII)


_Item = TypeVar("_Item", covariant=True)


class ColumnSequence(Sequence[_Item]):
    """A sequence kept as columns, its items made as read (``EligibleList``, the draw's
    ``Outcomes``): equal to any sequence of equal items in the same order, as the lists and tuples
    these replaced were, and shown by its length alone."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(map(operator.eq, self, other))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} entries)"


class EligibleEntry(NamedTuple):
    # NamedTuple rather than a frozen dataclass: a wave has up to millions of these, and tuples
    # are several times cheaper to create and unpack.
    registration_id: str
    province_code: str
    tier: int


_make_entry = partial(tuple.__new__, EligibleEntry)  # skips NamedTuple's Python-level __new__


class EligibleList(ColumnSequence[EligibleEntry]):
    """An eligible list kept as three columns, as the database hands it over; ``EligibleEntry``
    tuples are made only as read.

    The draw and the list's hash work on columns. Building 1.5 M entry tuples from fetched rows
    and splitting them back into columns took about 2 s of a stored draw (measured with the stack
    busy beside it); handed over as columns, they take neither. The columns are the caller's
    lists, not copies: nothing here changes them, and the caller must not either.
    """

    __slots__ = ("_canonical", "_columns")

    def __init__(
        self, registration_ids: list[str], province_codes: list[str], tiers: list[int]
    ) -> None:
        if not len(registration_ids) == len(province_codes) == len(tiers):
            raise ValueError("the eligible list's columns differ in length")
        self._columns = _Columns(registration_ids, province_codes, tiers)
        # Set by eligible_from_canonical: already checked, and in id order.
        self._canonical = False

    def __len__(self) -> int:
        return len(self._columns.ids)

    @overload
    def __getitem__(self, index: int) -> EligibleEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[EligibleEntry]: ...

    def __getitem__(self, index: int | slice) -> EligibleEntry | list[EligibleEntry]:
        ids, provinces, tiers = self._columns
        if isinstance(index, slice):
            return list(
                map(_make_entry, zip(ids[index], provinces[index], tiers[index], strict=True))
            )
        return EligibleEntry(ids[index], provinces[index], tiers[index])

    def __iter__(self) -> Iterator[EligibleEntry]:
        return map(_make_entry, zip(*self._columns, strict=True))


class _Columns(NamedTuple):
    """The entries as three parallel lists: cheaper to walk than 1.5 M tuples."""

    ids: list[str]
    provinces: list[str]
    tiers: list[int]


def validated_columns(entries: Iterable[EligibleEntry], *, sort_by_id: bool) -> _Columns:
    """Split (and optionally sort by registration_id) and validate; ValueError on a bad entry."""
    if isinstance(entries, EligibleList):
        if entries._canonical:
            return entries._columns  # cut from a canonical list, which was checked as it was cut
        # Already columns: nothing to build, and nothing to sort when the ids are in order (a list
        # read from the database is).
        if not sort_by_id:
            return _validated(entries._columns)
        if _strictly_increasing(entries._columns.ids):
            return _validated(entries._columns, increasing=True)
    listed = list(entries)
    if sort_by_id:
        try:
            listed.sort(key=operator.itemgetter(0))
        except TypeError:  # an id that is not text: named as a bad entry, not a traceback
            _raise_first_invalid(*_split(listed))
    return _validated(_split(listed))


def _split(listed: list[EligibleEntry]) -> _Columns:
    ids = [entry[0] for entry in listed]
    provinces = [entry[1] for entry in listed]
    tiers = [entry[2] for entry in listed]
    return _Columns(ids, provinces, tiers)


def _validated(columns: _Columns, *, increasing: bool = False) -> _Columns:
    ids, provinces, tiers = columns
    # Whole-column checks run in C; the slow row-by-row loop below only runs to name the culprit.
    valid = (
        _all_canonical_ids(ids)
        # Ids in strictly increasing order are unique, and checking that is cheaper than a set of
        # them; it stops at the first step down, at once for ids in no particular order.
        and (increasing or _strictly_increasing(ids) or len(set(ids)) == len(ids))
        and all(PROVINCE_CODE.fullmatch(code) for code in set(provinces))
        and set(tiers) <= set(TIERS)
        and set(map(type, tiers)) <= {int}  # True == 1, but would be written out as "True"
    )
    if not valid:
        _raise_first_invalid(ids, provinces, tiers)
    return columns


def _strictly_increasing(ids: list[str]) -> bool:
    try:
        return all(map(operator.lt, ids, islice(ids, 1, None)))
    except TypeError:  # not all strings: _validated names the culprit
        return False


_HEX_DIGITS = b"0123456789abcdef"
_ID_LENGTH = 36
_ID_DASHES = (8, 13, 18, 23)


def _all_canonical_ids(ids: list[str]) -> bool:
    """Whether every id matches REGISTRATION_ID, checked on the ids joined into one text.

    Slices and ``translate`` of one buffer run in C; a regex call per id cost about 0.8 s for
    1.5 M ids. If the joined bytes have the length of n ids with n - 1 separators, dashes and
    newlines at the positions a canonical id puts them, and no other byte outside 0-9a-f, then
    every id is exactly 36 characters in 8-4-4-4-12 lowercase hex form.
    """
    if not ids:
        return True
    try:
        joined = "\n".join(ids).encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return False
    n = len(ids)
    stride = _ID_LENGTH + 1
    return (
        len(joined) == stride * n - 1
        and all(joined[at::stride] == b"-" * n for at in _ID_DASHES)
        and joined[_ID_LENGTH::stride] == b"\n" * (n - 1)
        and len(joined.translate(None, _HEX_DIGITS)) == (len(_ID_DASHES) + 1) * n - 1
    )


def _raise_first_invalid(ids: list[str], provinces: list[str], tiers: list[int]) -> NoReturn:
    seen: set[str] = set()
    for registration_id, province_code, tier in zip(ids, provinces, tiers, strict=True):
        if not isinstance(registration_id, str) or not REGISTRATION_ID.fullmatch(registration_id):
            raise ValueError(f"registration_id {registration_id!r} is not a lowercase UUID")
        if registration_id in seen:
            raise ValueError(f"registration_id {registration_id} appears more than once")
        if not isinstance(province_code, str) or not PROVINCE_CODE.fullmatch(province_code):
            raise ValueError(f"{registration_id}: province_code {province_code!r} is not 2 digits")
        if tier not in TIERS or isinstance(tier, bool):
            raise ValueError(f"{registration_id}: tier {tier!r} is not 1, 2 or 3")
        seen.add(registration_id)
    raise ValueError("invalid eligible entries")


def validate_entries(entries: Iterable[EligibleEntry]) -> list[EligibleEntry]:
    """The entries sorted by registration_id, or ValueError naming the first bad one."""
    return list(map(_make_entry, zip(*validated_columns(entries, sort_by_id=True), strict=True)))


def canonical_eligible(entries: Iterable[EligibleEntry]) -> bytes:
    """The published eligible list: ``registration_id,province_code,tier`` lines, sorted by id.

    Lines are joined with a single ``\\n``; there is no header and no trailing newline, so the hash
    depends on nothing but the rows. Raises ValueError on a malformed or duplicated entry.
    """
    ids, provinces, tiers = validated_columns(entries, sort_by_id=True)
    # Each line is the id plus one of a few ",province,tier" endings, made once each: two lookups
    # and a concatenation per line, in C, instead of a format call (1.2 s -> 0.8 s of CPU for
    # 1.5 M lines on the busy machine).
    endings = {code: ("", f",{code},1", f",{code},2", f",{code},3") for code in set(provinces)}
    lines = map(
        operator.add, ids, map(operator.getitem, map(endings.__getitem__, provinces), tiers)
    )
    return "\n".join(lines).encode("ascii")


def eligible_sha256(entries: Iterable[EligibleEntry]) -> str:
    return hashlib.sha256(canonical_eligible(entries)).hexdigest()


# A canonical line is always 36 + 1 + 2 + 1 + 1 characters, and lines are joined by one "\n".
_LINE_STRIDE = 42
_TIER_OF_DIGIT = bytes.maketrans(b"123", b"\x01\x02\x03")


def eligible_from_canonical(canonical: bytes) -> EligibleList:
    """The entries of a canonical eligible list given as its bytes (what ``canonical_eligible``
    makes and ``eligible.csv`` holds), or ValueError if the bytes are not one.

    Every line has the same width, so the whole text is checked by position and cut into its
    fields in a few C calls: the stored list is read for each draw and export, and parsing 1.5 M
    lines as CSV would cost seconds (cutting each line apart in Python, 0.7-1.1 s).
    """
    if not canonical:
        return EligibleList([], [], [])
    if _lines_in_canonical_form(canonical) is None:
        _refuse_non_canonical(canonical)
    fields = canonical.decode("ascii").replace("\n", ",").split(",")
    ids = fields[0::3]
    provinces = fields[1::3]
    del fields
    if not _strictly_increasing(ids):
        _refuse_non_canonical(canonical)
    tiers = list(canonical[40::_LINE_STRIDE].translate(_TIER_OF_DIGIT))
    listed = EligibleList(ids, provinces, tiers)
    listed._canonical = True
    return listed


# Where each line has a fixed character, by offset in its 42-byte stride.
_FIXED_IN_LINE = ((8, b"-"), (13, b"-"), (18, b"-"), (23, b"-"), (36, b","), (39, b","))


def _lines_in_canonical_form(canonical: bytes) -> int | None:
    """How many lines ``canonical`` has if each is ``registration_id,province_code,tier`` in
    canonical form (a lowercase 8-4-4-4-12 UUID, 2 digits, 1, 2 or 3), joined by single
    newlines; None if any is not. Order and uniqueness are not looked at.

    Slices and ``translate`` of the whole text, in C: a few hundredths of a second for 1.5 M lines.
    The fixed characters are checked where they must be; then, with every hex digit removed, the
    text must be exactly those 7 characters a line (6 on the last), so every other byte of an id is
    a hex digit.
    """
    lines, extra = divmod(len(canonical) + 1, _LINE_STRIDE)
    if extra or not lines:
        return None
    if any(canonical[at::_LINE_STRIDE] != char * lines for at, char in _FIXED_IN_LINE):
        return None
    if canonical[41::_LINE_STRIDE] != b"\n" * (lines - 1):
        return None
    if len(canonical.translate(None, _HEX_DIGITS)) != 7 * lines - 1:
        return None
    provinces = canonical[37::_LINE_STRIDE] + canonical[38::_LINE_STRIDE]
    if provinces.translate(None, b"0123456789") or canonical[40::_LINE_STRIDE].translate(
        None, b"123"
    ):
        return None
    return lines


def _refuse_non_canonical(canonical: bytes) -> NoReturn:
    """ValueError naming what makes ``canonical`` not a canonical list (the slow way: only run
    once the fast checks have found that something does)."""
    lines_count, extra = divmod(len(canonical) + 1, _LINE_STRIDE)
    if (
        extra
        or canonical[36::_LINE_STRIDE] != b"," * lines_count
        or canonical[39::_LINE_STRIDE] != b"," * lines_count
        or canonical[41::_LINE_STRIDE] != b"\n" * (lines_count - 1)
    ):
        raise ValueError(
            "not a canonical eligible list: every line is registration_id,province_code,tier "
            "(a lowercase UUID, 2 digits, 1 digit), joined by single newlines"
        )
    tier_digits = canonical[40::_LINE_STRIDE]
    if tier_digits.translate(None, b"123"):
        raise ValueError("not a canonical eligible list: a tier is not 1, 2 or 3")
    try:
        lines = canonical.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise ValueError("not a canonical eligible list: it is not ASCII text") from None
    ids = list(map(operator.itemgetter(slice(0, 36)), lines))
    provinces = list(map(operator.itemgetter(slice(37, 39)), lines))
    tiers = list(tier_digits.translate(_TIER_OF_DIGIT))
    increasing = _strictly_increasing(ids)
    _validated(_Columns(ids, provinces, tiers), increasing=increasing)  # names a bad entry
    if not increasing:
        raise ValueError("not a canonical eligible list: its ids are not in rising order")
    raise ValueError("not a canonical eligible list")


def canonical_sha256(canonical: bytes) -> str:
    """SHA-256 of a canonical eligible list given as its bytes, once it is checked to be one
    (ValueError otherwise)."""
    eligible_from_canonical(canonical)
    return hashlib.sha256(canonical).hexdigest()


def frozen_list_sha256(canonical: bytes) -> str:
    """SHA-256 of an eligible list as a close freezes it, the hash the close publishes: each line
    checked to be in canonical form (ValueError otherwise), the ids' order left to whoever wrote
    them.

    The store writes the list in the order of the pool's primary key, so its ids rise and never
    repeat; comparing 1.5 M ids again here cost 0.4-0.6 s of a close. The draw reads the list
    with :func:`eligible_from_canonical`, which checks the order too, and ``verify-draw`` checks
    the published file.
    """
    if canonical and _lines_in_canonical_form(canonical) is None:
        _refuse_non_canonical(canonical)
    return hashlib.sha256(canonical).hexdigest()
