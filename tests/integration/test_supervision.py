"""A killed worker of the local stack comes back by itself (deploy/local/supervision.py), and the
pipeline it serves works again afterwards."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from gelombang.settings import REPO_ROOT
from tests.integration.test_verification import person, reaches, sms_codes, submit

pytestmark = pytest.mark.integration

PIDS = REPO_ROOT / ".run" / "pids"
# Safe to kill: it keeps what it was asked to send in .run/sms/outbox.jsonl, and the
# verification workers retry a send that found it down.
VICTIM = "sms-gateway-sim"
VICTIM_READY = "http://127.0.0.1:8092/readyz"
# Generous: the watcher waits while an `up` or `restart` holds the stack lock, and a background
# process (nice 10, a small CPU share) starts slowly on a machine busy with other work.
BACK_WITHIN_S = 120.0


def recorded_pid(name: str) -> int | None:
    try:
        return int((PIDS / f"{name}.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def command_line(pid: int) -> str | None:
    """The live (non-zombie) process's command line, None if it is gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return None
    return None if state in ("Z", "X") else raw.replace(b"\0", b" ").decode().strip()


def module_of(command: str) -> str:
    """What ``python -m`` runs: the same program, whatever flags the app table now gives it."""
    words = command.split()
    return words[words.index("-m") + 1] if "-m" in words[:-1] else command


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url)).status_code == 200
    except httpx.TransportError:
        return False


async def test_a_killed_worker_comes_back_by_itself_and_sign_ups_still_end_verified(
    api: httpx.AsyncClient,
) -> None:
    watcher = recorded_pid("supervisor")
    assert watcher is not None and "supervision.py" in (command_line(watcher) or ""), (
        "the stack's supervision is not running; `make up` starts it"
    )
    old = recorded_pid(VICTIM)
    assert old is not None, f"{VICTIM} has no pidfile; `make up` starts it"
    command = command_line(old)
    assert command is not None, f"{VICTIM} is not running; `make up` starts it"
    program = module_of(command)

    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + BACK_WITHIN_S
    new: int | None = None
    while time.monotonic() < deadline:
        pid = recorded_pid(VICTIM)
        now = command_line(pid) if pid is not None and pid != old else None
        if now is not None and module_of(now) == program and await ready(VICTIM_READY):
            new = pid
            break
        await asyncio.sleep(0.5)
    assert new is not None, (
        f"{VICTIM} was not back within {BACK_WITHIN_S:.0f}s; see .run/logs/supervisor.log"
    )

    # Through the process that came back: the code is sent by it and confirms the sign-up.
    body = person(email=False, phone=True)
    accepted = await submit(api, body)
    [code] = await sms_codes(body["phone"])
    confirmed = await api.post(
        "/api/v1/contact/otp/verify",
        json={"registration_id": accepted["registration_id"], "code": code},
        headers={"X-Status-Token": accepted["status_token"]},
    )
    assert confirmed.status_code == 200, confirmed.text
    await reaches(api, accepted, "verified")
