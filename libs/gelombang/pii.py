"""Personal data at rest and in events: keyed NIK hash for lookups, AES-GCM for the values.

The NIK hash is an HMAC so that nobody without the key can confirm a guessed NIK against the
database or the Kafka log (NIKs are structured and guessable). Sealed values are bound to the
registration id as associated data, so a ciphertext copied onto another record fails to open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any, Literal

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class PiiError(Exception):
    """A sealed value could not be opened (wrong key, tampered, or bound to another record)."""


class PiiCipher:
    def __init__(self, hmac_key: bytes, encryption_key: bytes) -> None:
        if len(hmac_key) != 32 or len(encryption_key) != 32:
            raise ValueError("keys must be 32 bytes")
        self._hmac_key = hmac_key
        self._aead = AESGCM(encryption_key)
        # A separate key for status tokens, derived so that deployments manage one secret less.
        self._token_key = hmac.new(hmac_key, b"gelombang/status-token/v1", hashlib.sha256).digest()

    def nik_hash(self, nik: str) -> str:
        return hmac.new(self._hmac_key, nik.encode("ascii"), hashlib.sha256).hexdigest()

    def contact_hash(self, kind: Literal["email", "phone"], value: str) -> str:
        """Blind index of a contact as normalised at sign-up (an email address as
        ``email_validator`` gives it, a phone number in E.164), to compare one without
        carrying it: a request for the status link sends this, never the address.

        An email address is compared without case: its domain never had any, and no provider
        people here use tells mailboxes apart by the case of their name, while people do not
        remember which letters they once typed in capitals."""
        canonical = value.casefold() if kind == "email" else value
        return self.keyed_digest("gelombang/contact/v1", kind, canonical).hex()

    def keyed_digest(self, *parts: str) -> bytes:
        """Deterministic, secret-dependent digest of several strings (for derived ids)."""
        message = "\x1f".join(parts).encode("utf-8")
        return hmac.new(self._hmac_key, message, hashlib.sha256).digest()

    def status_token(self, registration_id: str) -> str:
        """The secret that unlocks a registration's status page.

        Derived rather than random so that a retried submission (same Idempotency-Key, same
        registration id) hands out the same working token without storing it anywhere.
        """
        digest = hmac.new(self._token_key, registration_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")

    def check_status_token(self, registration_id: str, token: str) -> bool:
        # As bytes: the token comes from a header, which Starlette decodes as latin-1, and
        # compare_digest raises TypeError (a 500) on a str holding any non-ASCII character.
        # surrogatepass: even a str no header could carry encodes, so this never raises.
        presented = token.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(self.status_token(registration_id).encode(), presented)

    def seal(self, plaintext: bytes, bound_to: str) -> str:
        nonce = os.urandom(12)
        ciphertext = self._aead.encrypt(nonce, plaintext, bound_to.encode())
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + ciphertext).decode()}"

    def open(self, sealed: str, bound_to: str) -> bytes:
        version, _, body = sealed.partition(".")
        if version != _VERSION:
            raise PiiError(f"unknown sealed-value version {version!r}")
        try:
            raw = base64.urlsafe_b64decode(body)
            return self._aead.decrypt(raw[:12], raw[12:], bound_to.encode())
        except Exception as exc:  # InvalidTag, binascii.Error: all mean "cannot open"
            raise PiiError("sealed value cannot be opened") from exc

    def seal_json(self, value: dict[str, Any], bound_to: str) -> str:
        return self.seal(json.dumps(value, separators=(",", ":"), default=str).encode(), bound_to)

    def open_json(self, sealed: str, bound_to: str) -> dict[str, Any]:
        loaded = json.loads(self.open(sealed, bound_to))
        if not isinstance(loaded, dict):
            raise PiiError("sealed value is not an object")
        return loaded
