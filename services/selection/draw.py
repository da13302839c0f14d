"""The wave draw: a seeded, publicly re-runnable selection with province quotas and priority tiers.

Pure functions over in-memory data. The CLI and the service do the reading and writing, so anyone
holding the published ``eligible.csv``, quotas, revealed seed and beacon value can re-run exactly
this code, or the stdlib script in ``services/selection/README.md``, and get the same result.

The algorithm (``gelombang-draw-v2``; ``gelombang-draw-v1`` is the same without a beacon):

1. ``draw_key = HMAC-SHA256(key=bytes.fromhex(seed_hex), msg=beacon_value as UTF-8)`` (v1: the
   seed's 32 bytes), and ``rank = HMAC-SHA256(key=draw_key, msg=registration_id as ASCII)``,
   lowercase hex.
2. Everybody is ordered by ``(tier, rank)``; a rank tie (never seen in practice: it would take an
   HMAC collision) is broken by ``registration_id`` so that the order is total.
3. Provincial pass: walking that order, a person is selected ``via="province"`` while their
   province has seats left. Restricted to one province this is exactly "order the province by
   (tier, rank) and take the first ``quota``", done with one global sort instead of 38 small ones.
4. National remainder: ``total_quota - selected_so_far`` seats (seats provinces could not fill,
   plus any seats not assigned to a province at all) go to the not-yet-selected, again in global
   ``(tier, rank)`` order, ``via="remainder"``.
5. Everyone else is waitlisted.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import importlib
import operator
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import chain, compress, islice, repeat
from pathlib import Path
from typing import IO, Literal, NamedTuple, NoReturn, Protocol, overload

ALGORITHM_VERSION = "gelombang-draw-v1"
# v2 mixes in a public beacon value nobody knew at close (issue 19): the operator can no longer
# try seeds offline against the frozen list, because the rank key is unknown until the beacon is.
ALGORITHM_VERSION_V2 = "gelombang-draw-v2"

# Beacon texts (source, reference, value) are published in the manifest and the value is fed to
# HMAC as UTF-8: refusing control and invisible characters keeps what people read equal to what was
# hashed. The bound only keeps a manifest line printable; real beacon values are far shorter.
BEACON_TEXT_MAX = 1000

TIERS: tuple[int, ...] = (1, 2, 3)

# Registration ids are UUIDs. Only the canonical 8-4-4-4-12 lowercase form is accepted, so that the
# bytes fed to the HMAC and written to the published list cannot differ between two re-runs that
# spelled the same id differently (upper case, braces, no dashes).
REGISTRATION_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII
)
PROVINCE_CODE = re.compile(r"[0-9]{2}", re.ASCII)
_SEED_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)

# progress(stage, done, total); stages in order: ranking, sorting, province, remainder.
Progress = Callable[[str, int, int], None]

# How often the ranking loop reports; small enough for a live counter, large enough not to matter.
_PROGRESS_EVERY = 250_000


class EligibleEntry(NamedTuple):
    # NamedTuple rather than a frozen dataclass: a wave has up to millions of these, and tuples
    # are several times cheaper to create and unpack.
    registration_id: str
    province_code: str
    tier: int


_make_entry = partial(tuple.__new__, EligibleEntry)  # skips NamedTuple's Python-level __new__


class EligibleList(Sequence[EligibleEntry]):
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

    def __eq__(self, other: object) -> bool:
        # Equal to a list of the same entries, as the list this replaces was.
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(map(operator.eq, self, other))

    def __repr__(self) -> str:
        return f"EligibleList({len(self)} entries)"


class Outcome(NamedTuple):
    registration_id: str
    province_code: str
    tier: int
    rank: str
    outcome: Literal["selected", "waitlisted"]
    via: Literal["province", "remainder"] | None


_OUTCOME_OF: dict[str | None, Literal["selected", "waitlisted"]] = {
    "province": "selected",
    "remainder": "selected",
    None: "waitlisted",
}
_make_outcome = partial(tuple.__new__, Outcome)  # skips NamedTuple's Python-level __new__


class Outcomes(Sequence[Outcome]):
    """A draw's outcomes, one per entry, kept as columns and made into ``Outcome`` tuples as read.

    1.5 M long-lived tuples took about 0.4 s to build inside the draw and as long again the first
    time the cyclic collector walked them (and some 150 MB); read once, as storing and exporting
    do, each tuple lives only until the next one is made.
    """

    __slots__ = ("_columns",)

    def __init__(
        self,
        registration_ids: list[str],
        province_codes: list[str],
        tiers: list[int],
        ranks: Sequence[str],
        vias: list[Literal["province", "remainder"] | None],
    ) -> None:
        self._columns = (registration_ids, province_codes, tiers, ranks, vias)

    def __len__(self) -> int:
        return len(self._columns[0])

    @overload
    def __getitem__(self, index: int) -> Outcome: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Outcome, ...]: ...

    def __getitem__(self, index: int | slice) -> Outcome | tuple[Outcome, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        ids, provinces, tiers, ranks, vias = self._columns
        via = vias[index]
        return Outcome(
            ids[index], provinces[index], tiers[index], ranks[index], _OUTCOME_OF[via], via
        )

    def __iter__(self) -> Iterator[Outcome]:
        ids, provinces, tiers, ranks, vias = self._columns
        labels = map(_OUTCOME_OF.__getitem__, vias)
        return map(_make_outcome, zip(ids, provinces, tiers, ranks, labels, vias, strict=True))

    def selected_ids(self) -> list[str]:
        """The registration ids of everyone selected, in the order the entries were given."""
        ids, _, _, _, vias = self._columns
        return list(compress(ids, vias))  # a selected person's via is a non-empty text

    def selected_rows(self, *leading: object) -> Iterator[tuple[object, ...]]:
        """Each selected person as a plain tuple ``(*leading, registration_id, province_code,
        tier, via)``, in the order the entries were given, for a bulk insert."""
        ids, provinces, tiers, _, vias = self._columns
        fixed = [repeat(value) for value in leading]  # endless: zip stops with the columns
        return compress(zip(*fixed, ids, provinces, tiers, vias, strict=False), vias)

    def __eq__(self, other: object) -> bool:
        # Equal to any sequence of the same outcomes, as the tuple this replaced was to a tuple.
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(map(operator.eq, self, other))

    def __repr__(self) -> str:
        return f"Outcomes({len(self)} entries)"


@dataclass(frozen=True)
class DrawResult:
    outcomes: Outcomes
    """One per eligible entry, in the order the entries were given (which cannot affect who is
    selected). Pass entries sorted by registration_id, as the published list is, to get the order
    of ``result.csv``."""
    selected: int
    waitlisted: int
    selected_by_province: dict[str, int]
    """Every province that had an entry or a quota, including those with 0 selected."""
    selected_by_tier: dict[int, int]
    remainder_seats: int
    """Seats handed to the national remainder after the provincial pass (used or not)."""


def normalise_seed(seed_hex: str) -> str:
    """The seed as 64 lowercase hex characters (32 bytes), or ValueError."""
    lowered = seed_hex.strip().lower()
    if not _SEED_HEX.fullmatch(lowered):
        raise ValueError("seed must be 64 hexadecimal characters (32 bytes)")
    return lowered


def seed_commitment(seed_hex: str) -> str:
    """SHA-256, as lowercase hex, of the seed's lowercase hex *text* encoded as ASCII.

    Not of the 32 raw bytes: hashing the very string that will later be published lets anyone check
    the commitment with ``printf %s SEED | sha256sum``.
    """
    return hashlib.sha256(normalise_seed(seed_hex).encode("ascii")).hexdigest()


def normalise_beacon_text(text: str, name: str) -> str:
    """A beacon source, reference or value as it is stored and published: surrounding whitespace
    removed (a pasted line end must not change the draw), otherwise unchanged; or ValueError."""
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"{name} is empty")
    if len(stripped) > BEACON_TEXT_MAX:
        raise ValueError(f"{name} is longer than {BEACON_TEXT_MAX} characters")
    if not stripped.isprintable():
        raise ValueError(f"{name} contains control or invisible characters")
    return stripped


def algorithm_version(beacon_value: str | None) -> str:
    """The version a draw with (v2) or without (v1) a beacon value is published under."""
    return ALGORITHM_VERSION if beacon_value is None else ALGORITHM_VERSION_V2


def draw_key(seed_hex: str, beacon_value: str | None) -> bytes:
    """The HMAC key ranks are computed with.

    v1 (no beacon): the seed's 32 bytes. v2: ``HMAC-SHA256(key=bytes.fromhex(seed),
    msg=beacon_value as UTF-8)``, also 32 bytes.
    """
    seed = bytes.fromhex(normalise_seed(seed_hex))
    if beacon_value is None:
        return seed
    return hmac.new(seed, beacon_value.encode("utf-8"), hashlib.sha256).digest()


def rank(seed_hex: str, registration_id: str, beacon_value: str | None = None) -> str:
    """HMAC-SHA256(key=draw_key(seed, beacon), msg=registration_id as ASCII), lowercase hex."""
    return _Ranker(draw_key(seed_hex, beacon_value))(registration_id)


def ranks(seed_hex: str, beacon_value: str | None, registration_ids: Sequence[str]) -> list[str]:
    """:func:`rank` of each id, in order, at the draw's speed: stored results keep no ranks, they
    are computed again from the wave's seed and beacon value when a result is exported."""
    return list(rank_ids(draw_key(seed_hex, beacon_value), list(registration_ids), _silent))


class _HashState(Protocol):
    def copy(self) -> _HashState: ...
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


def _state_copying_sha256() -> Callable[[bytes], _HashState]:
    # The ranking loop copies a hash state twice and finalises twice per id. CPython's built-in
    # SHA-256 does each with a struct copy; OpenSSL's (hashlib's default) allocates and copies an
    # EVP context every time, which made ranking 1.5 M ids take 2.2-2.6 s against 1.7 s. Same
    # function, same bytes (the tests compare ranks with hmac.new); hashlib's is the fallback on
    # a Python built without the module (3.11 names it _sha256, 3.12 on _sha2).
    for name in ("_sha2", "_sha256"):
        try:
            constructor: Callable[[bytes], _HashState] = importlib.import_module(name).sha256
        except (ImportError, AttributeError):
            continue
        return constructor
    return hashlib.sha256


_SHA256 = _state_copying_sha256()


class _Ranker:
    """HMAC-SHA256 with the key schedule done once.

    HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) (RFC 2104). Hashing the two padded keys once
    and copying the hash states per message gives the same bytes as ``hmac.new(key, m, sha256)``
    (the tests check this) at about a third of the cost of ``hmac`` per call, and ranking is the
    largest part of a 1.5 M draw.
    """

    def __init__(self, raw_key: bytes) -> None:
        # A 32-byte key is shorter than SHA-256's 64-byte block, so it is zero-padded, never hashed.
        assert len(raw_key) <= 64
        key = raw_key.ljust(64, b"\0")
        self._inner = _SHA256(bytes(b ^ 0x36 for b in key))
        self._outer = _SHA256(bytes(b ^ 0x5C for b in key))

    def __call__(self, registration_id: str) -> str:
        inner = self._inner.copy()
        inner.update(registration_id.encode("ascii"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def digests(self, registration_ids: Sequence[str]) -> bytes:
        """The raw 32-byte HMACs of the ids, concatenated in order."""
        # Ids encoded in one C call (they are validated UUIDs, so "\n" cannot occur inside one).
        if not registration_ids:
            return b""  # "".split would otherwise yield one empty message
        return self.digest_messages("\n".join(registration_ids).encode("ascii").split(b"\n"))

    def digest_messages(self, messages: Iterable[bytes]) -> bytes:
        # Bound methods and one tight loop: per-call overhead is what dominates at this size. Raw
        # digests, hexed in one call at the end: no rank text object per id.
        inner_copy = self._inner.copy
        outer_copy = self._outer.copy
        digests: list[bytes] = []
        append = digests.append
        for message in messages:
            inner = inner_copy()
            inner.update(message)
            outer = outer_copy()
            outer.update(inner.digest())
            append(outer.digest())
        return b"".join(digests)


class _Ranks(Sequence[str]):
    """Ranks kept as the HMACs' raw bytes, 32 each, written in hex as read.

    Storing a draw needs no rank at all and the walk only the ranks it reaches (about one in
    eight of 1.5 M): making every rank's text up front cost more than the rest of the walk.
    """

    __slots__ = ("_digests",)

    def __init__(self, digests: bytes) -> None:
        self._digests = digests

    def __len__(self) -> int:
        return len(self._digests) // 32

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return list(map(self.at, range(len(self))[index]))
        return self.at(range(len(self))[index])  # IndexError, negative indices: as a list does

    def __iter__(self) -> Iterator[str]:
        return map(self.at, range(len(self)))

    def at(self, index: int) -> str:
        """The rank at ``index``, which must be in range and not negative (unchecked: the walk)."""
        return self._digests[32 * index : 32 * index + 32].hex()

    def first_digits(self) -> str:
        """Each rank's first hex digit, in order, as one text."""
        return self._digests[0::32].translate(_HIGH_NIBBLE_DIGIT).decode("ascii")


_HIGH_NIBBLE_DIGIT = bytes(b"0123456789abcdef"[byte >> 4] for byte in range(256))


# Ranking is Python-level work, one HMAC per id (about 1 s for 1.5 M ids on one core), and no
# thread can share it: the hash objects hold the GIL for messages this short. So a big list is
# ranked half here and half in a second Python process. Below this size, starting that process
# would cost more than it saves.
_RANK_IN_TWO_FROM = 200_000
_SERVICES_ROOT = str(Path(__file__).resolve().parents[2])
# The helper imports nothing but this module (-I -S: no site-packages, no environment): it reads
# the key's hex and the ids, one per line, on stdin and writes their raw HMACs.
_HELPER_CODE = (
    f"import sys; sys.path.insert(0, {_SERVICES_ROOT!r}); "
    "from services.selection.draw import _digest_stdin; _digest_stdin()"
)
_HELPER_COMMAND = (sys.executable, "-I", "-S", "-c", _HELPER_CODE)


def _digest_stdin() -> None:
    key_hex, _, ids = sys.stdin.buffer.read().partition(b"\n")
    digests = _Ranker(bytes.fromhex(key_hex.decode("ascii"))).digest_messages(ids.split(b"\n"))
    sys.stdout.buffer.write(digests)
    sys.stdout.buffer.flush()
    os._exit(0)  # nothing to clean up: freeing 750,000 objects one by one takes a tenth of a second


class _RankingHelper:
    """Computes the HMACs of some ids in a child process while this one does others.

    Input and output go through unnamed temporary files, not pipes: neither side ever waits for
    the other to read, and a pipe drained by a thread here would wait for the GIL the ranking
    loop holds. If the child cannot start or fails, ``digests`` computes them here instead: the
    result is the same either way, only slower.
    """

    def __init__(
        self, key: bytes, registration_ids: list[str], command: Sequence[str] = _HELPER_COMMAND
    ) -> None:
        self._key = key
        self._ids = registration_ids
        self._output: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        try:
            # Closed by close(), once the child has written it and it has been read.
            self._output = tempfile.TemporaryFile()  # noqa: SIM115
            with tempfile.TemporaryFile() as given:
                given.write(key.hex().encode("ascii") + b"\n")
                given.write("\n".join(registration_ids).encode("ascii"))
                given.seek(0)
                self._process = subprocess.Popen(  # noqa: S603 (this interpreter, fixed code)
                    list(command),
                    stdin=given,
                    stdout=self._output,
                    stderr=subprocess.DEVNULL,
                )
        except OSError:
            self._process = None

    def digests(self) -> bytes:
        try:
            process, output = self._process, self._output
            if process is not None and output is not None and process.wait() == 0:
                output.seek(0)
                written = output.read()
                if len(written) == 32 * len(self._ids):
                    return written
            return _Ranker(self._key).digests(self._ids)
        finally:
            self.close()

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._output is not None:
            self._output.close()


def rank_ids(
    key: bytes,
    registration_ids: list[str],
    report: Progress,
    split_from: int = _RANK_IN_TWO_FROM,
    helper_command: Sequence[str] = _HELPER_COMMAND,
) -> _Ranks:
    """The rank of each id under ``key`` (a :func:`draw_key`), in order, with progress: the draw's
    and :func:`ranks`'s ranking. From ``split_from`` ids on, the second half is ranked at the same
    time by ``helper_command``, the helper process (a command that fails or writes something
    else only makes it slower: the ranks are then computed here)."""
    count = len(registration_ids)
    half = count // 2 if count >= split_from else count
    helper = None
    if half < count:
        helper = _RankingHelper(key, registration_ids[half:], helper_command)
    try:
        ranker = _Ranker(key)
        digests: list[bytes] = []
        for start in range(0, half, _PROGRESS_EVERY):
            report("ranking", start, count)
            digests.append(
                ranker.digests(registration_ids[start : min(half, start + _PROGRESS_EVERY)])
            )
        if helper is not None:
            report("ranking", half, count)
            digests.append(helper.digests())
    finally:
        if helper is not None:
            helper.close()
    report("ranking", count, count)
    return _Ranks(b"".join(digests))


class _Columns(NamedTuple):
    """The entries as three parallel lists: cheaper to walk than 1.5 M tuples."""

    ids: list[str]
    provinces: list[str]
    tiers: list[int]


def _columns(entries: Iterable[EligibleEntry], *, sort_by_id: bool) -> _Columns:
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
    return list(map(_make_entry, zip(*_columns(entries, sort_by_id=True), strict=True)))


def canonical_eligible(entries: Iterable[EligibleEntry]) -> bytes:
    """The published eligible list: ``registration_id,province_code,tier`` lines, sorted by id.

    Lines are joined with a single ``\\n``; there is no header and no trailing newline, so the hash
    depends on nothing but the rows. Raises ValueError on a malformed or duplicated entry.
    """
    ids, provinces, tiers = _columns(entries, sort_by_id=True)
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


def validate_quotas(quotas: Mapping[str, int], total_quota: int) -> None:
    if isinstance(total_quota, bool) or not isinstance(total_quota, int) or total_quota < 0:
        raise ValueError(f"total_quota must be a non-negative integer, got {total_quota!r}")
    for province_code, seats in quotas.items():
        if not isinstance(province_code, str) or not PROVINCE_CODE.fullmatch(province_code):
            raise ValueError(f"quota province_code {province_code!r} is not 2 digits")
        if isinstance(seats, bool) or not isinstance(seats, int) or seats < 0:
            raise ValueError(f"quota for {province_code} must be a non-negative integer")
    assigned = sum(quotas.values())
    if assigned > total_quota:
        # More provincial seats than the wave has: which province should lose seats is a policy
        # decision, not something the draw may guess.
        raise ValueError(f"province quotas sum to {assigned}, more than total_quota {total_quota}")


def draw(
    entries: Iterable[EligibleEntry],
    quotas: Mapping[str, int],
    total_quota: int,
    seed_hex: str,
    progress: Progress | None = None,
    beacon_value: str | None = None,
) -> DrawResult:
    """Run ``gelombang-draw-v1``, or ``gelombang-draw-v2`` when ``beacon_value`` is given (the
    rank key is then :func:`draw_key`; everything else is the same; see the README).

    A province with entries but no quota has quota 0: its people can still win remainder seats.
    A province with a quota but fewer entries leaves its unused seats to the remainder, as does
    ``total_quota - sum(quotas)``. The result does not depend on the order of ``entries``.
    """
    report: Progress = progress or _silent
    key = draw_key(seed_hex, beacon_value)
    validate_quotas(quotas, total_quota)
    with _collector_paused():
        return _draw(entries, quotas, total_quota, key, report)


@contextmanager
def _collector_paused() -> Iterator[None]:
    # A draw allocates millions of tuples and strings and creates no reference cycles. With the
    # cyclic collector on, each young-generation pass rescans them, which measured at over a third
    # of a 1.5 M draw's time for nothing to collect.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _draw(
    entries: Iterable[EligibleEntry],
    quotas: Mapping[str, int],
    total_quota: int,
    key: bytes,
    report: Progress,
) -> DrawResult:
    # Input order is kept: sorting 1.5 M ids would cost seconds and the draw does not need it,
    # because every ordering decision below uses (tier, rank, registration_id) only.
    ids, provinces, tiers = _columns(entries, sort_by_id=False)
    count = len(ids)

    ranks = rank_ids(key, ids, report)

    report("sorting", 0, count)
    ordered = _in_draw_order(tiers, ranks, ids)
    report("sorting", count, count)

    report("province", 0, count)
    seats_left = {code: quotas.get(code, 0) for code in set(provinces) | set(quotas)}
    # A province ends the full walk with min(quota, its entries) seats; counting on that, the walk
    # can stop once they are all given, even where a province cannot fill its quota, and the order
    # past that point never has to be sorted.
    entries_in = Counter(provinces)
    provincial_seats = sum(min(seats, entries_in[code]) for code, seats in seats_left.items())
    via: list[Literal["province", "remainder"] | None] = [None] * count
    winners: list[int] = []
    walked: list[int] = []  # the head of the order, walked again by the remainder pass
    if provincial_seats:
        for index in ordered:
            walked.append(index)
            province_code = provinces[index]
            if seats_left[province_code] > 0:
                seats_left[province_code] -= 1
                via[index] = "province"
                winners.append(index)
                if len(winners) == provincial_seats:
                    break
    report("province", count, count)

    remainder_seats = total_quota - len(winners)
    report("remainder", 0, remainder_seats)
    # Everyone not yet selected gets a seat when there are at least as many seats as people.
    to_give = min(remainder_seats, count - len(winners))
    given = 0
    if to_give:
        for index in chain(walked, ordered):
            if via[index] is None:
                via[index] = "remainder"
                winners.append(index)
                given += 1
                if given == to_give:
                    break
    report("remainder", given, remainder_seats)

    outcomes = Outcomes(ids, provinces, tiers, ranks, via)
    by_province = Counter(map(provinces.__getitem__, winners))
    by_tier = Counter(map(tiers.__getitem__, winners))
    return DrawResult(
        outcomes=outcomes,
        selected=len(winners),
        waitlisted=count - len(winners),
        selected_by_province={code: by_province[code] for code in sorted(seats_left)},
        selected_by_tier={tier: by_tier[tier] for tier in TIERS},
        remainder_seats=remainder_seats,
    )


_HEX_DIGIT_TEXTS = "0123456789abcdef"


def _in_draw_order(tiers: list[int], ranks: _Ranks, ids: list[str]) -> Iterator[int]:
    """Entry indices in (tier, rank, registration_id) order, sorted only as far as it is read.

    The walks stop once the seats are given, usually within the first tenth or so of the order,
    and sorting all 1.5 M entries took 1.5-2 s. So entries go into buckets by tier and first rank
    digit, in one pass, now; a bucket is sorted when the walk reaches it. Buckets in (tier, digit)
    order, each sorted in full, are exactly the global order: only speed depends on how evenly
    HMAC output spreads over the digits.
    """
    buckets: dict[int, dict[str, list[int]]] = {
        tier: {digit: [] for digit in _HEX_DIGIT_TEXTS} for tier in TIERS
    }
    for index, tier, digit in zip(range(len(ranks)), tiers, ranks.first_digits(), strict=True):
        buckets[tier][digit].append(index)
    return _sorted_buckets(
        [buckets[tier].pop(digit) for tier in TIERS for digit in _HEX_DIGIT_TEXTS], ranks, ids
    )


def _sorted_buckets(buckets: list[list[int]], ranks: _Ranks, ids: list[str]) -> Iterator[int]:
    for members in buckets:
        # Flat rank+id strings compare as (rank, registration_id), faster than tuple keys.
        keys = list(map(operator.add, map(ranks.at, members), map(ids.__getitem__, members)))
        positions = sorted(range(len(members)), key=keys.__getitem__)
        del keys
        yield from map(members.__getitem__, positions)


def _silent(stage: str, done: int, total: int) -> None:
    pass
