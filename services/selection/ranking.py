"""The ranks of the wave draw (step 1 of the algorithm in ``draw.py``): the draw key made from the
seed and the beacon value, and each registration's rank, ``HMAC-SHA256(key=draw_key,
msg=registration_id as ASCII)``.

Ranking is the largest part of a big draw: the HMAC key schedule is done once, and from
``_RANK_IN_TWO_FROM`` ids on, half of the ids are ranked by a helper process at the same time. The
helper (``python -I -S``) imports this module, so it must import nothing but the standard library
and ``services.selection.progress``: no pydantic, asyncpg or other module of the services.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Protocol, overload

from services.selection.progress import Progress, silent

_SEED_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)

# How often the ranking loop reports; small enough for a live counter, large enough not to matter.
_PROGRESS_EVERY = 250_000


def normalise_seed(seed_hex: str) -> str:
    """The seed as 64 lowercase hex characters (32 bytes), or ValueError."""
    lowered = seed_hex.strip().lower()
    if not _SEED_HEX.fullmatch(lowered):
        raise ValueError("seed must be 64 hexadecimal characters (32 bytes)")
    return lowered


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
    return list(rank_ids(draw_key(seed_hex, beacon_value), list(registration_ids), silent))


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


class Ranks(Sequence[str]):
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
# The helper imports nothing but this module and progress.py (-I -S: no site-packages, no
# environment): it reads the key's hex and the ids, one per line, on stdin and writes their raw
# HMACs.
_HELPER_CODE = (
    f"import sys; sys.path.insert(0, {_SERVICES_ROOT!r}); "
    "from services.selection.ranking import _digest_stdin; _digest_stdin()"
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
) -> Ranks:
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
    return Ranks(b"".join(digests))
