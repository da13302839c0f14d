"""Local SMTP sink: ``python -m services.simulators.mail_sink --port 1025 --maildir .run/mail``.

A real SMTP server (aiosmtpd) so the verification worker's mail goes over the same protocol and
client library as in production; it accepts every message and, instead of delivering it, writes
it as one ``.eml`` file into the maildir, where tests find the verification link. The ops port
serves /healthz, /readyz (which checks that the SMTP port answers its 220 greeting) and /metrics.

Files are written to a temporary name and renamed, so a reader never sees half a message; names
are ``<UTC timestamp>-<uuid>.eml``, so sorting by name is arrival order.
"""

from __future__ import annotations

import argparse
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


def read_mailbox(maildir: Path) -> list[EmailMessage]:
    """Every message in ``maildir``, oldest first."""
    parser = BytesParser(_class=EmailMessage, policy=email.policy.default)
    messages: list[EmailMessage] = []
    for path in sorted(maildir.glob("*.eml")):
        with path.open("rb") as fh:
            parsed = parser.parse(fh)
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


def find_messages(maildir: Path, to: str) -> list[EmailMessage]:
    """Messages addressed to ``to`` (To, Cc or envelope recipient), oldest first."""
    wanted = to.strip().casefold()
    found: list[EmailMessage] = []
    for message in read_mailbox(maildir):
        headers = [
            str(value)
            for name in ("To", "Cc", "X-Original-To")
            for value in message.get_all(name, [])
        ]
        if any(address.casefold() == wanted for _, address in getaddresses(headers)):
            found.append(message)
    return found


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
    parser = argparse.ArgumentParser(description="Local SMTP sink writing .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025, help="SMTP port")
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
