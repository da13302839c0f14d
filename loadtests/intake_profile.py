"""Where one registration API process spends its CPU per sign-up (issue 15's itemised figure).

Drives ``registration-0`` directly at a steady rate below its knee with the bench's generator,
samples it with py-spy meanwhile, and prints self time by package together with the process's
CPU per 202 from /proc, so each share is also a cost in ms per sign-up:

    python -m loadtests.intake_profile --rate 300 --seconds 20

py-spy is a profiling tool, not a dependency of the stack: ``pip install py-spy`` (it needs to
ptrace the API process, so run as the same user or root). The raw stacks are kept in
``reports/`` for a flame graph.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from gelombang.settings import REPO_ROOT
from loadtests.bench import SOURCE, make_bodies
from loadtests.generator import Target, percentile, run_rate
from loadtests.per_process import PATH, cpu_s
from loadtests.processes import component_pids

# First match wins: a frame's file path names the package that spent the time.
GROUPS: tuple[tuple[str, str], ...] = (
    ("/fastapi/", "FastAPI"),
    ("/starlette/", "Starlette"),
    ("/uvicorn/", "uvicorn + httptools"),
    ("/httptools/", "uvicorn + httptools"),
    ("/pydantic", "pydantic"),
    ("/email_validator/", "email_validator"),
    ("/aiokafka/", "aiokafka"),
    ("/kafka/", "aiokafka"),
    ("/redis/", "redis-py"),
    ("/hiredis/", "redis-py"),
    ("/cryptography/", "cryptography (PII sealing)"),
    ("/prometheus_client/", "prometheus_client"),
    ("/uvloop/", "asyncio + uvloop"),
    ("/asyncio/", "asyncio + uvloop"),
    ("/libs/gelombang/", "gelombang library"),
    ("/services/", "registration service"),
    ("/json/", "json"),
    ("/hmac.py", "hmac/hashlib"),
    ("/hashlib.py", "hmac/hashlib"),
    ("/uuid.py", "uuid"),
)
_FRAME = re.compile(r"\((?P<path>[^()]*?):\d+\)$")


def group_of(frame: str) -> str:
    match = _FRAME.search(frame)
    path = match.group("path") if match else frame
    for needle, name in GROUPS:
        if needle in path:
            return name
    return "other (stdlib, typing, …)"


def self_time(raw: str) -> Counter[str]:
    """Samples per package from py-spy's raw (collapsed) output: the leaf frame of each stack."""
    shares: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rsplit(";", 1)[-1]
        shares[group_of(leaf)] += int(count)
    return shares


async def drive(rate: int, seconds: int, pid: int) -> tuple[int, float, float]:
    """(202s, CPU seconds of the process, p99 ms) of one steady step."""
    bodies = make_bodies(rate * seconds + 1000)
    before = cpu_s(pid)
    rec = await run_rate(
        [Target("127.0.0.1", 8000, PATH)], bodies, rate, seconds, connections=64, source=SOURCE
    )
    used = cpu_s(pid) - before
    return rec.statuses().get(202, 0), used, percentile(rec.latencies_ms(), 99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=300, help="sign-ups per second, below the knee")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--hz", type=int, default=200, help="py-spy samples per second")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        sys.exit("py-spy is not installed: pip install py-spy")
    pid = component_pids()["registration-0"]
    out = REPO_ROOT / "reports" / "intake-profile.raw.txt"
    out.parent.mkdir(exist_ok=True)
    spy = subprocess.Popen(  # noqa: S603 - a tool we located, our own process
        [
            py_spy,
            "record",
            "-p",
            str(pid),
            "-r",
            str(args.hz),
            "-d",
            str(args.seconds),
            "--format",
            "raw",
            "--full-filenames",
            "--nonblocking",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    accepted, cpu, p99 = asyncio.run(drive(args.rate, args.seconds, pid))
    if spy.wait(timeout=args.seconds + 60) != 0:
        sys.exit(f"py-spy failed (exit {spy.returncode}); is the stack up (make status)?")
    report(self_time(Path(out).read_text()), accepted, cpu, p99, args.rate)


def report(shares: Counter[str], accepted: int, cpu_s_used: float, p99: float, rate: int) -> None:
    total = sum(shares.values()) or 1
    ms_per = cpu_s_used * 1000 / accepted if accepted else float("nan")
    print(
        f"registration-0 at {rate}/s: {accepted} x 202, p99 {p99:.0f} ms, "
        f"CPU {ms_per:.3f} ms per 202 (/proc); self time by package ({total} samples):"
    )
    for name, samples in shares.most_common():
        share = samples / total
        print(f"  {name:<30} {share:6.1%}  {share * ms_per:.3f} ms")


if __name__ == "__main__":
    main()
