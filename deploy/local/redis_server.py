"""Step 6: Redis, the edge's fast path: its config, start and health check."""

from __future__ import annotations

import socket

from deploy.local.layout import HOST, REDIS_PORT, REDIS_TIMEOUT, RUN, StackError, which
from deploy.local.processes import Component, Health, start_simple

REDIS_DIR = RUN / "redis"


def check_redis() -> Health:
    try:
        with socket.create_connection((HOST, REDIS_PORT), timeout=2) as s:
            s.sendall(b"PING\r\n")
            reply = s.recv(64)
    except OSError as exc:
        return False, f"PING: {exc.__class__.__name__}"
    return reply.startswith(b"+PONG"), f"PING -> {reply.strip().decode(errors='replace')}"


def start_redis(comp: Component) -> None:
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    conf = REDIS_DIR / "redis.conf"
    conf.write_text(
        "# Written by deploy/local/stack.py. Redis is the edge's fast path; the log decides.\n"
        "# Its data survives a restart (append-only file, fsync once a second) so a restarted\n"
        "# Redis still answers the friendly 409 for people already registered, instead of\n"
        "# letting their repeats through to be refused later by the decider.\n"
        f"bind {HOST}\n"
        "protected-mode yes\n"
        f"port {REDIS_PORT}\n"
        f"dir {REDIS_DIR}\n"
        'save ""\n'
        "appendonly yes\n"
        "appendfsync everysec\n"
        "daemonize no\n"
        'logfile ""\n'
        "loglevel notice\n"
        "tcp-keepalive 60\n"
    )
    redis = which("redis-server")
    if redis is None:
        raise StackError("redis: redis-server not installed")
    start_simple(comp, [redis, str(conf)], REDIS_TIMEOUT)
