"""Local SMTP sink: ``python -m testkit.simulators.mail_sink --port 1025 --maildir .run/mail``.

A real SMTP server (aiosmtpd) so the verification worker's mail goes over the same protocol and
client library as in production; it accepts every message and, instead of delivering it, writes
it as one ``.eml`` file into the maildir, where tests find the verification link. The ops port
serves /healthz, /readyz (which checks that the SMTP port answers its 220 greeting) and /metrics.

Files are written to a temporary name and renamed, so a reader never sees half a message; names
are ``<UTC timestamp>-<uuid>.eml``, so sorting by name is arrival order.
"""

from __future__ import annotations

import asyncio
import email.policy
import logging
import os
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

import uvloop
from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client import Counter

from gelombang.logs import configure_logging, get_logger
from gelombang.probes import probes_server
from gelombang.settings import REPO_ROOT
from testkit.simulators.serving import simulator_parser

SERVICE = "mail-sink"
DEFAULT_MAILDIR = REPO_ROOT / ".run" / "mail"
# Generous for a verification mail, small enough that a runaway client cannot fill the disk.
MAX_MESSAGE_BYTES = 10 * 1024 * 1024

MESSAGES = Counter("mail_sink_messages_total", "Messages accepted and written to the maildir")
WRITE_ERRORS = Counter(
    "mail_sink_write_errors_total", "Messages refused with 451 because the maildir write failed"
)

log = get_logger(__name__)


def _store(maildir: Path, content: bytes) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    final = maildir / f"{stamp}-{uuid.uuid4().hex}.eml"
    # A dot-prefixed .tmp name: readers only pick up *.eml, so they never see a partial file.
    temporary = maildir / f".{final.name}.tmp"
    temporary.write_bytes(content)
    os.replace(temporary, final)
    return final


class MaildirHandler:
    """aiosmtpd handler: every accepted message becomes one file in ``maildir``."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""  # bytes as sent, before any decoding
        # Envelope recipients as headers, like Postfix's local delivery: Bcc'd recipients and
        # the actual RCPT TO are otherwise lost, and find_messages searches by them.
        trace = f"Return-Path: <{envelope.mail_from or ''}>\r\n" + "".join(
            f"X-Original-To: {rcpt}\r\n" for rcpt in envelope.rcpt_tos
        )
        try:
            await asyncio.to_thread(_store, self.maildir, trace.encode() + raw)
        except OSError as exc:
            WRITE_ERRORS.inc()
            log.error("maildir_write_failed", error=exc.__class__.__name__)
            return "451 Requested action aborted: local error in processing"
        MESSAGES.inc()
        return "250 Message accepted for delivery"


def _recipients(message: EmailMessage) -> set[str]:
    headers = [
        str(value) for name in ("To", "Cc", "X-Original-To") for value in message.get_all(name, [])
    ]
    return {address.casefold() for _, address in getaddresses(headers)}


def find_messages(maildir: Path, to: str) -> list[EmailMessage]:
    """Messages addressed to ``to`` (To, Cc or envelope recipient), oldest first."""
    wanted = to.strip().casefold()
    needle = wanted.encode()
    parser = BytesParser(_class=EmailMessage, policy=email.policy.default)
    found: list[EmailMessage] = []
    for path in sorted(maildir.glob("*.eml")):
        raw = path.read_bytes()
        # A byte search first: after a load run the maildir holds tens of thousands of
        # messages, and parsing each one on every poll is what made waiting for a link slow.
        if needle not in raw.lower():
            continue
        message = parser.parsebytes(raw)
        assert isinstance(message, EmailMessage)
        if wanted in _recipients(message):
            found.append(message)
    return found


class Mailbox:
    """An index of the maildir by recipient that reads each new file once.

    For a client that waits for many people's mail at the same time (the funnel driver): one
    ``refresh`` per poll, then lookups are free.
    """

    def __init__(self, maildir: Path, *, only_new: bool = False) -> None:
        self.maildir = maildir
        # only_new: what is already there is not for us (earlier runs), and not worth parsing.
        self._seen: set[str] = {p.name for p in maildir.glob("*.eml")} if only_new else set()
        self._by_recipient: dict[str, list[EmailMessage]] = {}
        self._parser = BytesParser(_class=EmailMessage, policy=email.policy.default)

    def refresh(self) -> int:
        """Index messages that arrived since the last call; returns how many."""
        new = sorted(p for p in self.maildir.glob("*.eml") if p.name not in self._seen)
        for path in new:
            message = self._parser.parsebytes(path.read_bytes())
            assert isinstance(message, EmailMessage)
            for address in _recipients(message):
                self._by_recipient.setdefault(address, []).append(message)
            self._seen.add(path.name)
        return len(new)

    def messages_to(self, to: str) -> list[EmailMessage]:
        return list(self._by_recipient.get(to.strip().casefold(), []))


async def _smtp_answers(host: str, port: int) -> bool:
    """Whether a new connection to the SMTP port gets the 220 greeting."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        greeting = await asyncio.wait_for(reader.readline(), 1.0)
        writer.write(b"QUIT\r\n")
        await writer.drain()
        return greeting.startswith(b"220")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


async def serve(host: str, port: int, ops_port: int, maildir: Path) -> None:
    handler = MaildirHandler(maildir)
    loop = asyncio.get_running_loop()
    smtp_server = await loop.create_server(
        lambda: SMTP(
            handler,
            # Fixed: the default (socket.getfqdn) can block on DNS for seconds at start-up.
            hostname="gelombang-mail-sink",
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
        ),
        host=host,
        port=port,
    )

    async def ready() -> dict[str, bool]:
        return {
            "smtp": await _smtp_answers(host, port),
            "maildir": os.access(maildir, os.W_OK),
        }

    log.info("started", smtp_port=port, ops_port=ops_port, maildir=str(maildir))
    try:
        # Returns on SIGTERM/SIGINT: uvicorn's server handles the signals for the process.
        await probes_server(ready, host, ops_port).serve()
    finally:
        smtp_server.close()
        await smtp_server.wait_closed()


def main() -> None:
    parser = simulator_parser("Local SMTP sink writing .eml files", 1025, "SMTP port")
    parser.add_argument("--ops-port", type=int, default=8093, help="/healthz /readyz /metrics")
    parser.add_argument("--maildir", type=Path, default=DEFAULT_MAILDIR)
    args = parser.parse_args()
    configure_logging(SERVICE, os.environ.get("GELOMBANG_LOG_LEVEL", "INFO"))
    # aiosmtpd logs every envelope (sender and recipient addresses) at INFO: personal data.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    maildir: Path = args.maildir.resolve()
    maildir.mkdir(parents=True, exist_ok=True)
    uvloop.run(serve(args.host, args.port, args.ops_port, maildir))


if __name__ == "__main__":
    main()
