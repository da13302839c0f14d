"""Clients for the outside systems verification depends on: the civil registry (HTTP), the SMS
gateway (HTTP) and email (SMTP). Each turns every way of failing into one exception type that
means "not now, try again later", so the caller never mistakes an outage for a rejection.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

import aiohttp
import aiosmtplib
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from gelombang.metrics import (
    CIVIL_REGISTRY_CIRCUIT,
    CIVIL_REGISTRY_LATENCY,
    CONTACT_SEND_LATENCY,
    MESSAGES_SENT,
)
from services.verification.service import RegistryResult

_CIRCUIT_VALUES = {"closed": 0.0, "half-opened": 1.0, "opened": 2.0}


class Unavailable(Exception):
    """The outside system did not give an answer we can act on; retry later."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class Undeliverable(Exception):
    """The provider refused the destination itself (not a temporary failure)."""


# aiohttp, not httpx: these calls are most of a worker's work, and httpcore cost about a third of
# a verification worker's CPU (py-spy at 300 sign-ups/s), an eighth of it in a failed
# `import sniffio` that Python retries on every request (failed imports are not cached).
HTTP_ERRORS = (aiohttp.ClientError, TimeoutError)


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _json_field(body: bytes, name: str) -> object:
    """One field of a JSON object answer; None if the answer is not such an object."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data.get(name) if isinstance(data, dict) else None


def http_session(base_url: str, timeout_s: float, max_connections: int) -> aiohttp.ClientSession:
    """A keep-alive session for one outside system; a call past ``timeout_s`` is a failure."""
    return aiohttp.ClientSession(
        base_url=base_url,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        connector=aiohttp.TCPConnector(limit=max_connections),
    )


def _rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, Unavailable) and exc.reason == "http_429"


class CivilRegistryClient:
    """Checks a NIK with the civil registry, politely.

    "Too many requests" is the registry working and asking us to slow down, not failing: it does
    not count towards opening the circuit, and the client holds off for the Retry-After the
    registry gave. While the circuit is open or the client holds off, ``wait_s`` says how long,
    so the scheduler leaves due checks where they are instead of claiming them only to fail
    them (measured: a 429 burst opened the circuit and 33,000 checks were claimed, failed fast
    and rescheduled in the next 15 s of one 30 s spike).
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        api_key: str,
        concurrency: int,
        failure_threshold: int,
        open_s: float,
    ) -> None:
        self._http = http
        self._api_key = api_key
        self._open_s = open_s
        self._slots = asyncio.Semaphore(concurrency)
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=failure_threshold,
            default_ttl=open_s,
            exclude=[(Unavailable, _rate_limited)],
        )
        self._breakers.add_listener(self._on_breaker_event)
        self._resume_at = 0.0  # time.monotonic() before which calls are pointless
        CIVIL_REGISTRY_CIRCUIT.set(0)

    def wait_s(self) -> float:
        """Seconds until calling the registry makes sense again (0: now)."""
        return max(0.0, self._resume_at - time.monotonic())

    def _hold_off(self, seconds: float) -> None:
        self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def _on_breaker_event(self, name: str, event_name: str, event: Any) -> None:
        if event_name == "state_changed":
            state = str(event.state)
            CIVIL_REGISTRY_CIRCUIT.set(_CIRCUIT_VALUES.get(state, 0.0))
            if state == "opened":
                self._hold_off(self._open_s)

    async def verify(self, nik: str, full_name: str, birth_date: str) -> RegistryResult:
        async with self._slots:
            try:
                breaker = await self._breakers.get_breaker("civil_registry")
                async with breaker:
                    return await self._call(nik, full_name, birth_date)
            except OpenedState as exc:
                raise Unavailable("circuit_open") from exc

    async def _call(self, nik: str, full_name: str, birth_date: str) -> RegistryResult:
        started = time.perf_counter()
        outcome = "error"
        try:
            async with self._http.post(
                "/v1/nik/verify",
                json={"nik": nik, "full_name": full_name, "birth_date": birth_date},
                headers={"X-Api-Key": self._api_key},
            ) as response:
                if response.status == 200:
                    result = _json_field(await response.read(), "result")
                    if result in ("match", "mismatch", "not_found"):
                        outcome = str(result)
                        return result
                    raise Unavailable("bad_answer")
                outcome = str(response.status)
                retry_after = _retry_after(response)
                if response.status == 429:
                    self._hold_off(retry_after or 1.0)
                # 429 and 5xx are the registry's problem, not the person's: retry later.
                # Inside the breaker, so a registry that keeps failing is left alone a while.
                raise Unavailable(f"http_{response.status}", retry_after)
        except HTTP_ERRORS as exc:
            outcome = type(exc).__name__
            raise Unavailable(type(exc).__name__) from exc
        finally:
            CIVIL_REGISTRY_LATENCY.labels(outcome).observe(time.perf_counter() - started)


class SmsClient:
    def __init__(self, http: aiohttp.ClientSession, api_key: str) -> None:
        self._http = http
        self._api_key = api_key

    async def send(self, to: str, text: str, client_ref: str) -> None:
        started = time.perf_counter()
        try:
            async with self._http.post(
                "/v1/messages",
                json={"to": to, "text": text, "client_ref": client_ref},
                headers={"Authorization": f"Bearer {self._api_key}"},
            ) as response:
                await response.read()  # the whole answer, so the connection can be reused
                code = response.status
                retry_after = _retry_after(response)
        except HTTP_ERRORS as exc:
            CONTACT_SEND_LATENCY.labels("sms", "error").observe(time.perf_counter() - started)
            MESSAGES_SENT.labels("sms", "error").inc()
            raise Unavailable(type(exc).__name__) from exc
        result = "sent" if code in (200, 201, 202) else "refused" if code in (400, 422) else "error"
        CONTACT_SEND_LATENCY.labels("sms", result).observe(time.perf_counter() - started)
        if code in (200, 201, 202):
            MESSAGES_SENT.labels("sms", "sent").inc()
            return
        if code in (400, 422):
            MESSAGES_SENT.labels("sms", "refused").inc()
            raise Undeliverable(f"http_{code}")
        MESSAGES_SENT.labels("sms", "error").inc()
        raise Unavailable(f"http_{code}", retry_after)


# An address, a subject or a Message-ID that needs no encoding or quoting in a header: plain
# ASCII, no controls. Anything else is written by EmailMessage, which knows every rule.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
_PLAIN_HEADER_TEXT = re.compile(r"[ -~]{1,900}")
_MAX_LINE = 998  # RFC 5322: no line longer than this, line break excluded


def plain_message(
    sender: str, to: str, subject: str, body: str, message_id: str
) -> bytes | None:
    """The message as ASCII text, or None when it needs MIME encoding (then EmailMessage).

    Building an EmailMessage and flattening it cost about 1.8 ms of CPU per message here (its
    header registry parses every header it is given), most of a worker's CPU while it sends the
    confirmation emails of a spike. Ours are ASCII text in the everyday case, which needs no
    encoding at all: the same headers EmailMessage would write, from a template. Line endings
    and dot-stuffing are the SMTP client's (aiosmtplib normalises both in DATA).
    """
    if not (
        _PLAIN_ADDRESS.fullmatch(to)
        and _PLAIN_HEADER_TEXT.fullmatch(sender)
        and _PLAIN_HEADER_TEXT.fullmatch(subject)
        and _PLAIN_HEADER_TEXT.fullmatch(message_id)
        and body.isascii()
        and "\r" not in body
        and all(len(line) <= _MAX_LINE for line in body.split("\n"))
    ):
        return None
    if not body.endswith("\n"):
        body += "\n"
    return (
        f"From: {sender}\nTo: {to}\nSubject: {subject}\nMessage-ID: <{message_id}@gelombang>\n"
        'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: 7bit\n'
        f"MIME-Version: 1.0\n\n{body}"
    ).encode("ascii")


class Mailer:
    """Email over SMTP through a few kept-open connections.

    A connection per message (connect, EHLO, MAIL, RCPT, DATA, QUIT) spent most of its round
    trips and CPU on the connection itself; a relay takes many messages per connection. At most
    ``connections`` messages are in flight, each on a connection of its own. A connection that
    failed in any way is closed rather than reused, since its SMTP state is then unknown; one
    that the server closed while idle is replaced once before the message counts as failed.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        timeout_s: float,
        helo_name: str,
        connections: int = 8,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._envelope_sender = parseaddr(sender)[1]
        self._timeout_s = timeout_s
        self._helo_name = helo_name
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[aiosmtplib.SMTP] = []

    async def send(self, to: str, subject: str, body: str, message_id: str) -> None:
        # Stable Message-ID per attempt: a resend after a lost answer is recognisable.
        message: EmailMessage | bytes | None = plain_message(
            self._sender, to, subject, body, message_id
        )
        if message is None:
            message = EmailMessage()
            message["From"] = self._sender
            message["To"] = to
            message["Subject"] = subject
            message["Message-ID"] = f"<{message_id}@gelombang>"
            message.set_content(body)
        started = time.perf_counter()
        result = "error"
        try:
            async with self._slots:
                await self._deliver(message, to)
            result = "sent"
        except aiosmtplib.SMTPRecipientsRefused as exc:
            result = "refused"
            MESSAGES_SENT.labels("email", "refused").inc()
            raise Undeliverable("recipient_refused") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            MESSAGES_SENT.labels("email", "error").inc()
            raise Unavailable(type(exc).__name__) from exc
        finally:
            CONTACT_SEND_LATENCY.labels("email", result).observe(time.perf_counter() - started)
        MESSAGES_SENT.labels("email", "sent").inc()

    async def _deliver(self, message: EmailMessage | bytes, to: str) -> None:
        reused = bool(self._idle)
        client = self._idle.pop() if reused else await self._connect()
        try:
            await self._transmit(client, message, to)
        except aiosmtplib.SMTPServerDisconnected:
            client.close()
            if not reused:
                raise
            # The server dropped it while it sat idle (relays time idle connections out).
            client = await self._connect()
            try:
                await self._transmit(client, message, to)
            except BaseException:
                client.close()
                raise
        except BaseException:
            client.close()
            raise
        self._idle.append(client)

    async def _transmit(
        self, client: aiosmtplib.SMTP, message: EmailMessage | bytes, to: str
    ) -> None:
        if isinstance(message, bytes):
            await client.sendmail(self._envelope_sender, [to], message)
        else:
            await client.send_message(message)

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            timeout=self._timeout_s,
            local_hostname=self._helo_name,
        )
        await client.connect()
        return client

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
