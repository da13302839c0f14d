"""Contact checks shared by the public API (which confirms) and the verification workers
(which send): signed single-use email links and one-time SMS codes.

Both are derived from the deployment's HMAC key, so no secret is stored per registration:
a link carries its registration id and expiry under a MAC; an OTP is kept in Redis only as a
MAC of the code, so a Redis dump does not reveal live codes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

import redis.asyncio as aioredis

LINK_TTL = timedelta(hours=48)
OTP_TTL = timedelta(minutes=10)
OTP_MAX_ATTEMPTS = 5

OtpCheck = Literal["ok", "wrong", "locked", "expired"]


class LinkInvalid(Exception):
    """Tampered, truncated or foreign link."""


class LinkExpired(Exception):
    def __init__(self, registration_id: str) -> None:
        super().__init__("link expired")
        self.registration_id = registration_id


class ContactSecrets:
    def __init__(self, hmac_key: bytes) -> None:
        self._link_key = hmac.new(hmac_key, b"gelombang/contact-link/v1", hashlib.sha256).digest()
        self._otp_key = hmac.new(hmac_key, b"gelombang/otp/v1", hashlib.sha256).digest()

    def link_token(self, registration_id: str, expires_at: datetime, version: int = 0) -> str:
        """``version``: which contact of the case the link confirms (0: the one given at sign-up,
        n: its n-th change). Version 0 keeps the links' first form, so links already sent stay
        valid; a changed contact's link differs from every link sent before it."""
        body = uuid.UUID(registration_id).bytes + struct.pack(">q", int(expires_at.timestamp()))
        if version:
            body += struct.pack(">H", version)
        mac = hmac.new(self._link_key, body, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(body + mac).decode().rstrip("=")

    def open_link(self, token: str, now: datetime) -> str:
        """Return the registration id of a genuine, unexpired link."""
        registration_id, _ = self.opened_link(token, now)
        return registration_id

    def opened_link(self, token: str, now: datetime) -> tuple[str, int]:
        """The registration id and contact version of a genuine, unexpired link."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise LinkInvalid from exc
        if len(raw) not in (40, 42):
            raise LinkInvalid
        body, mac = raw[:-16], raw[-16:]
        expected = hmac.new(self._link_key, body, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(mac, expected):
            raise LinkInvalid
        registration_id = str(uuid.UUID(bytes=body[:16]))
        (expires,) = struct.unpack(">q", body[16:24])
        (version,) = struct.unpack(">H", body[24:]) if len(body) == 26 else (0,)
        if now.timestamp() > expires:
            raise LinkExpired(registration_id)
        return registration_id, int(version)

    def otp_digest(self, registration_id: str, code: str) -> str:
        message = f"{registration_id}:{code}".encode()
        return hmac.new(self._otp_key, message, hashlib.sha256).hexdigest()

    @staticmethod
    def new_otp() -> str:
        return f"{secrets.randbelow(1_000_000):06d}"

    def phone_key(self, phone: str) -> str:
        """A stable pseudonym for a phone number, for per-phone send limits."""
        return hmac.new(self._otp_key, phone.encode(), hashlib.sha256).hexdigest()[:32]


def link_expiry(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) + LINK_TTL


# A contact changed late (a typo fixed at hour 47) gets at least this long to be confirmed
# (issue 20): the new message needs time to arrive and to be acted on.
CHANGE_GRACE = timedelta(hours=24)


def deadline_after_change(deadline: datetime, changed_at: datetime) -> datetime:
    """A case's contact deadline once its contact changed at ``changed_at``: never earlier
    than before, and at least ``CHANGE_GRACE`` after the change. A case changes its contact
    at most a few times (verification's ``contact_change_limit``), so this cannot extend it
    forever. Verification applies it; the status answer shows it from the change's step."""
    return max(deadline, changed_at + CHANGE_GRACE)


# Check and count in one atomic step so that parallel guesses cannot exceed the attempt limit.
# A correct code is marked used rather than deleted: to everyone it is gone ('expired', as a
# deleted one), but _RESTORE_OTP can give it back, attempts and expiry unchanged, when the
# confirmation could not be made durable.
_CHECK_OTP = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'expired' end
if redis.call('HGET', KEYS[1], 'used') then return 'expired' end
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if attempts >= tonumber(ARGV[2]) then return 'locked' end
if redis.call('HGET', KEYS[1], 'digest') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'used', '1')
  return 'ok'
end
attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if attempts >= tonumber(ARGV[2]) then return 'locked' end
return 'wrong'
"""

# Only the code that was used, and only while it is still the live one: a code issued since
# (``issue`` replaces the whole hash) or one that expired meanwhile stays as it is. Nothing
# but the 'used' mark changes, so giving a code back never buys a guesser more attempts.
_RESTORE_OTP = """
if redis.call('HGET', KEYS[1], 'used') and redis.call('HGET', KEYS[1], 'digest') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'used')
  return 1
end
return 0
"""


class OtpStore:
    """Live one-time codes in Redis: ``otp:<registration id>`` → {digest, attempts}, 10 min TTL.

    A code that passed ``check`` also carries ``used`` until it expires or ``restore`` takes
    the mark away again.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    @staticmethod
    def _key(registration_id: str) -> str:
        return f"otp:{registration_id}"

    async def issue(self, registration_id: str, digest: str) -> None:
        key = self._key(registration_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"digest": digest, "attempts": 0})
            pipe.expire(key, int(OTP_TTL.total_seconds()))
            await pipe.execute()

    async def check(self, registration_id: str, digest: str) -> OtpCheck:
        result = await self._redis.eval(
            _CHECK_OTP, 1, self._key(registration_id), digest, str(OTP_MAX_ATTEMPTS)
        )
        text = result.decode() if isinstance(result, bytes) else str(result)
        if text not in ("ok", "wrong", "locked", "expired"):
            raise RuntimeError(f"unexpected OTP check result {text!r}")
        return text  # type: ignore[return-value]

    async def revoke(self, registration_id: str) -> None:
        """Drop the live code: its number or address was replaced (issue 20)."""
        await self._redis.delete(self._key(registration_id))

    async def restore(self, registration_id: str, digest: str) -> bool:
        """Give back a code that ``check`` just accepted (the confirmation it led to failed).

        True if the code is live again; False if it expired or was replaced in the meantime.
        """
        result = await self._redis.eval(_RESTORE_OTP, 1, self._key(registration_id), digest)
        return bool(result)


def status_page_path(registration_id: str, status_token: str) -> str:
    """The public status page of a registration. The token rides in the fragment: browsers
    never send it to a server, so it stays out of every access log and Referer."""
    return f"/status#id={registration_id}&t={status_token}"
