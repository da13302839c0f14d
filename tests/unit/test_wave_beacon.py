"""Draw v2's refusals (issue 19), through the service, the CLI and the admin API, over an in-memory
wave store: a close that names no beacon, a beacon due before the close, a draw before the beacon
is due, a value for another reference, a second draw."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gelombang.serving import lifespan_runtime
from services.selection.api import Runtime
from services.selection.app import create_app
from services.selection.cli import main
from services.selection.draw import ALGORITHM_VERSION, ALGORITHM_VERSION_V2, draw, seed_commitment
from services.selection.eligible_list import EligibleEntry, canonical_eligible
from services.selection.service import DrawnWave, Wave, WaveClosing, WaveError, Waves
from services.selection.settings import SelectionSettings

SEED = "c3" * 32
OTHER_SEED = "d4" * 32
SOURCE = "drand quicknet (League of Entropy)"
REFERENCE = "round 27946612"
VALUE = "12b0be648c0ee05804652fffaf9479872ed2134a654caf95825af425d5e45198"
T0 = datetime(2020, 4, 11, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)
EARLIER = T0 - timedelta(seconds=1)
ENTRIES = [
    EligibleEntry(f"00000000-0000-4000-8000-{n:012d}", ("31", "32", "35")[n % 3], n % 3 + 1)
    for n in range(12)
]


class MemoryWaveStore:
    """The WaveStore protocol in memory, with the repository's state guards."""

    def __init__(self, entries: list[EligibleEntry]) -> None:
        self.waves: dict[int, Wave] = {}
        self.entries = sorted(entries)

    async def all_waves(self) -> list[Wave]:
        return [self.waves[number] for number in sorted(self.waves)]

    async def get(self, number: int) -> Wave | None:
        return self.waves.get(number)

    async def insert(self, wave: Wave) -> None:
        self.waves[wave.number] = wave

    async def close(self, closing: WaveClosing) -> None:
        self.waves[closing.number] = replace(
            self.waves[closing.number],
            state="closed",
            cutoff_at=closing.cutoff,
            seed_commitment=closing.commitment,
            eligible_sha256=closing.sha_of(canonical_eligible(self.entries)),
            eligible_count=len(self.entries),
            beacon_source=closing.beacon.source,
            beacon_reference=closing.beacon.reference,
            beacon_due_at=closing.beacon.due_at,
        )

    async def eligible(self, number: int) -> list[EligibleEntry]:
        return list(self.entries)

    async def store_draw(self, drawn: DrawnWave) -> None:
        assert self.waves[drawn.number].state == "closed"
        self.waves[drawn.number] = replace(
            self.waves[drawn.number],
            state="drawn",
            seed=drawn.seed,
            beacon_value=drawn.beacon_value,
            algorithm_version=drawn.version,
            selected=drawn.result.selected,
            waitlisted=drawn.result.waitlisted,
            drawn_at=T0,
        )

    async def announce(self, number: int) -> int:
        self.waves[number] = replace(self.waves[number], state="announced")
        return len(self.entries)


def store_with(state: str = "open", *, due: datetime | None = None) -> MemoryWaveStore:
    """A store holding wave 1 (4 seats) as ``state``; a closed wave announced REFERENCE due at
    ``due`` (None: closed before draw v2, without a beacon)."""
    store = MemoryWaveStore(ENTRIES)
    wave = Wave(1, T0, T0 + timedelta(days=7), {"31": 1, "32": 2}, 4, {}, "open")
    if state == "closed":
        wave = replace(
            wave,
            state="closed",
            seed_commitment=seed_commitment(SEED),
            beacon_source=None if due is None else SOURCE,
            beacon_reference=None if due is None else REFERENCE,
            beacon_due_at=due,
        )
    store.waves[1] = wave
    return store


def waves_of(store: MemoryWaveStore) -> Waves:
    return Waves(store, 4, {})


def refusal(error: pytest.ExceptionInfo[WaveError]) -> tuple[str, int, str | None]:
    return error.value.code, error.value.status, error.value.field


# -- the service ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "reference", "due", "expected"),
    [
        (SOURCE, None, LATER, ("beacon_reference_missing", 422, "beacon_reference")),
        (SOURCE, "  ", LATER, ("beacon_reference_missing", 422, "beacon_reference")),
        (None, REFERENCE, LATER, ("beacon_source_missing", 422, "beacon_source")),
        (SOURCE, REFERENCE, None, ("beacon_due_missing", 422, "beacon_due_at")),
        (SOURCE, REFERENCE, T0, ("beacon_due_not_after_close", 422, "beacon_due_at")),
        (SOURCE, REFERENCE, EARLIER, ("beacon_due_not_after_close", 422, "beacon_due_at")),
        (SOURCE, "round\n1", LATER, ("beacon_invalid", 422, "beacon_reference")),
    ],
)
async def test_a_close_without_a_beacon_nobody_knows_yet_is_refused(
    source: str | None,
    reference: str | None,
    due: datetime | None,
    expected: tuple[str, int, str | None],
) -> None:
    store = store_with("open")
    with pytest.raises(WaveError) as refused:
        await waves_of(store).close(1, seed_commitment(SEED), source, reference, due, T0)
    assert refusal(refused) == expected
    assert store.waves[1].state == "open"


async def test_a_close_records_the_beacon_announcement() -> None:
    store = store_with("open")
    due = T0 + timedelta(minutes=10)
    wave = await waves_of(store).close(1, seed_commitment(SEED), f" {SOURCE} ", REFERENCE, due, T0)
    assert wave.state == "closed"
    assert (wave.beacon_source, wave.beacon_reference) == (SOURCE, REFERENCE)
    assert wave.beacon_due_at == due
    assert wave.beacon_value is None


@pytest.mark.parametrize(
    ("seed", "reference", "value", "now", "expected"),
    [
        (SEED, REFERENCE, VALUE, EARLIER, ("beacon_not_due", 409, "beacon_value")),
        (SEED, "round 27946613", VALUE, T0, ("beacon_reference_mismatch", 422, "beacon_reference")),
        (SEED, None, VALUE, T0, ("beacon_reference_missing", 422, "beacon_reference")),
        (SEED, REFERENCE, None, T0, ("beacon_value_missing", 422, "beacon_value")),
        (SEED, REFERENCE, " ", T0, ("beacon_value_missing", 422, "beacon_value")),
        (SEED, REFERENCE, "ab\x00cd", T0, ("beacon_invalid", 422, "beacon_value")),
        (OTHER_SEED, REFERENCE, VALUE, T0, ("seed_mismatch", 422, "seed")),
    ],
)
async def test_a_draw_without_the_announced_beacon_value_is_refused(
    seed: str,
    reference: str | None,
    value: str | None,
    now: datetime,
    expected: tuple[str, int, str | None],
) -> None:
    store = store_with("closed", due=T0)
    with pytest.raises(WaveError) as refused:
        await waves_of(store).draw(1, seed, reference, value, now)
    assert refusal(refused) == expected
    assert store.waves[1].state == "closed"


async def test_a_draw_with_the_announced_value_once_due_is_v2() -> None:
    store = store_with("closed", due=T0)
    # The reference names the value; surrounding whitespace (a pasted line end) is not part of it.
    wave = await waves_of(store).draw(1, SEED.upper(), f"{REFERENCE} ", f"{VALUE}\n", T0)
    assert wave.state == "drawn"
    assert (wave.algorithm_version, wave.beacon_value, wave.seed) == (
        ALGORITHM_VERSION_V2,
        VALUE,
        SEED,
    )
    expected = draw(ENTRIES, {"31": 1, "32": 2}, 4, SEED, beacon_value=VALUE)
    assert (wave.selected, wave.waitlisted) == (expected.selected, expected.waitlisted)


@pytest.mark.parametrize("seed", [SEED, OTHER_SEED])
@pytest.mark.parametrize("state", ["drawn", "announced"])
async def test_a_drawn_wave_is_never_drawn_again(seed: str, state: str) -> None:
    store = store_with("closed", due=T0)
    await waves_of(store).draw(1, SEED, REFERENCE, VALUE, T0)
    if state == "announced":
        await waves_of(store).announce(1)
    with pytest.raises(WaveError) as refused:
        await waves_of(store).draw(1, seed, REFERENCE, "another value", T0 + timedelta(days=1))
    assert refusal(refused) == ("wave_already_drawn", 409, None)
    assert "already drawn" in refused.value.message
    assert store.waves[1].beacon_value == VALUE


async def test_a_wave_closed_before_v2_is_drawn_as_v1_and_takes_no_beacon() -> None:
    store = store_with("closed", due=None)
    with pytest.raises(WaveError) as refused:
        await waves_of(store).draw(1, SEED, REFERENCE, VALUE, T0)
    assert refusal(refused) == ("beacon_not_announced", 422, "beacon_value")
    wave = await waves_of(store).draw(1, SEED, None, None, T0)
    assert (wave.algorithm_version, wave.beacon_value) == (ALGORITHM_VERSION, None)


# -- the CLI --------------------------------------------------------------------------------------


def run_cli(
    argv: list[str], store: MemoryWaveStore, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    status = main(argv, wave_store=store)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_close_requires_the_beacon_options(capsys: pytest.CaptureFixture[str]) -> None:
    store = store_with("open")
    with pytest.raises(SystemExit) as usage:
        main(["wave-close", "1", "--seed-commitment", seed_commitment(SEED)], wave_store=store)
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert "--beacon-source" in err and "--beacon-reference" in err and "--beacon-due" in err
    assert store.waves[1].state == "open"


@pytest.mark.parametrize(
    ("reference", "due", "message"),
    [
        ("  ", "+1h", "a close must name the beacon reference"),
        (REFERENCE, "-1m", "must be due after the close"),
    ],
)
def test_cli_close_refusals_are_one_error_line(
    capsys: pytest.CaptureFixture[str], reference: str, due: str, message: str
) -> None:
    store = store_with("open")
    offset = timedelta(hours=1) if due == "+1h" else -timedelta(minutes=1)
    due_at = (datetime.now(UTC) + offset).isoformat()
    argv = ["wave-close", "1", "--seed-commitment", seed_commitment(SEED)]
    argv += ["--beacon-source", SOURCE, "--beacon-reference", reference, "--beacon-due", due_at]
    status, _, err = run_cli(argv, store, capsys)
    assert status == 2
    assert err.splitlines()[-1].startswith("error: ") and message in err
    assert store.waves[1].state == "open"


def test_cli_close_prints_what_to_publish(capsys: pytest.CaptureFixture[str]) -> None:
    store = store_with("open")
    due_at = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    argv = ["wave-close", "1", "--seed-commitment", seed_commitment(SEED)]
    argv += ["--beacon-source", SOURCE, "--beacon-reference", REFERENCE, "--beacon-due", due_at]
    status, out, _ = run_cli(argv, store, capsys)
    assert status == 0
    assert f"beacon_reference: {REFERENCE}" in out and SOURCE in out
    assert store.waves[1].beacon_due_at == datetime.fromisoformat(due_at)


@pytest.mark.parametrize(
    ("due_in", "reference", "message"),
    [
        (timedelta(hours=1), REFERENCE, "nobody can know its value before then"),
        (-timedelta(hours=1), "round 1", "only that reference's value can draw it"),
    ],
)
def test_cli_draw_refusals_are_one_error_line(
    capsys: pytest.CaptureFixture[str], due_in: timedelta, reference: str, message: str
) -> None:
    store = store_with("closed", due=datetime.now(UTC) + due_in)
    argv = ["wave-draw", "1", "--seed", SEED]
    status, _, err = run_cli(
        [*argv, "--beacon-reference", reference, "--beacon-value", VALUE], store, capsys
    )
    assert status == 2
    assert err.splitlines()[-1].startswith("error: ") and message in err
    assert store.waves[1].state == "closed"


def test_cli_draws_once(capsys: pytest.CaptureFixture[str]) -> None:
    store = store_with("closed", due=datetime.now(UTC) - timedelta(seconds=1))
    argv = ["wave-draw", "1", "--seed", SEED, "--beacon-reference", REFERENCE]
    status, out, _ = run_cli([*argv, "--beacon-value", VALUE], store, capsys)
    assert status == 0
    assert f"({ALGORITHM_VERSION_V2})" in out
    status, _, err = run_cli([*argv, "--beacon-value", "retry"], store, capsys)
    assert status == 2
    assert "wave 1 was already drawn" in err
    assert store.waves[1].beacon_value == VALUE


# -- the admin API --------------------------------------------------------------------------------


@pytest.fixture
async def admin_api() -> AsyncIterator[tuple[httpx.AsyncClient, MemoryWaveStore]]:
    settings = SelectionSettings(admin_token="unit-test-admin-token-" + "a" * 40)
    app = create_app(settings)
    store = store_with("open")
    # No lifespan under ASGITransport: the routes get a runtime without a database instead;
    # they use only the waves service.
    rt = Runtime(settings, None, waves_of(store), None)  # type: ignore[arg-type]
    app.dependency_overrides[lifespan_runtime] = lambda: rt
    token = settings.effective_admin_token
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://selection",
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client, store


def close_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "seed_commitment": seed_commitment(SEED),
        "beacon_source": SOURCE,
        "beacon_reference": REFERENCE,
        "beacon_due_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"beacon_reference": None}, "validation_failed", "body.beacon_reference"),
        ({"beacon_reference": "   "}, "beacon_reference_missing", "body.beacon_reference"),
        ({"beacon_due_at": None}, "validation_failed", "body.beacon_due_at"),
        ({"beacon_due_at": "2020-04-11T00:00:00"}, "validation_failed", "body.beacon_due_at"),
        (
            {"beacon_due_at": "2020-04-11T00:00:00+07:00"},
            "beacon_due_not_after_close",
            "body.beacon_due_at",
        ),
    ],
)
async def test_api_close_refusals_name_the_field(
    admin_api: tuple[httpx.AsyncClient, MemoryWaveStore],
    changes: dict[str, object],
    code: str,
    field: str,
) -> None:
    client, store = admin_api
    answer = await client.post("/api/v1/admin/waves/1/close", json=close_body(**changes))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code
    assert answer.json()["detail"].startswith(f"{field}:")
    assert store.waves[1].state == "open"


async def test_api_close_then_draw_refusals_then_one_draw(
    admin_api: tuple[httpx.AsyncClient, MemoryWaveStore],
) -> None:
    client, store = admin_api
    closed = await client.post("/api/v1/admin/waves/1/close", json=close_body())
    assert closed.status_code == 200, closed.text
    published = closed.json()
    assert (published["beacon_source"], published["beacon_reference"]) == (SOURCE, REFERENCE)
    assert published["beacon_due_at"] is not None and published["beacon_value"] is None

    body = {"seed": SEED, "beacon_reference": REFERENCE, "beacon_value": VALUE}
    early = await client.post("/api/v1/admin/waves/1/draw", json=body)
    assert early.status_code == 409, early.text
    assert early.json()["code"] == "beacon_not_due"
    assert early.json()["detail"].startswith("body.beacon_value:")

    # The announced reference falls due.
    store.waves[1] = replace(store.waves[1], beacon_due_at=datetime.now(UTC))
    other = await client.post(
        "/api/v1/admin/waves/1/draw", json={**body, "beacon_reference": "round 1"}
    )
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "beacon_reference_mismatch"
    assert other.json()["detail"].startswith("body.beacon_reference:")
    missing = await client.post("/api/v1/admin/waves/1/draw", json={"seed": SEED})
    assert missing.status_code == 422 and missing.json()["code"] == "beacon_reference_missing"

    drawn = await client.post("/api/v1/admin/waves/1/draw", json=body)
    assert drawn.status_code == 200, drawn.text
    wave = drawn.json()
    assert (wave["algorithm_version"], wave["beacon_value"], wave["seed"]) == (
        ALGORITHM_VERSION_V2,
        VALUE,
        SEED,
    )
    again = await client.post("/api/v1/admin/waves/1/draw", json=body)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "wave_already_drawn"
