"""Garbage-collector settings for processes that answer people.

CPython's cyclic collector now and then walks every object the process holds. An API process
holds ~100 MB of long-lived objects (modules, pydantic and FastAPI schemas, clients), so those
full collections paused the event loop for 55-145 ms at 400 sign-ups/s per process, every few
seconds: most of the gateway's p99 (measured with gc.callbacks, README Performance). Freezing
what exists once startup is done takes those objects out of every later collection, and a
larger first-generation threshold runs the cheap young collections less often.
"""

from __future__ import annotations

import gc

# Objects allocated (minus freed) before a young collection; CPython's default is 700. A
# sign-up allocates a few thousand short-lived objects, nearly all freed by reference counting.
YOUNG_THRESHOLD = 20_000


def settle_after_startup() -> None:
    """Call once, just before serving, when the app (modules, schemas, routes) is built; what
    the lifespan opens afterwards (pools, clients) is small beside it."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
