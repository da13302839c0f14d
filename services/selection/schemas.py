"""Request and response bodies of the selection admin API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.selection.draw import BEACON_TEXT_MAX
from services.selection.service import ImportReport, Wave


class AdminError(BaseModel):
    code: str
    detail: str


# Wave numbers and seat counts are Postgres ``integer`` columns: a larger value must be a 422,
# not a driver error (a 500) at the first query.
INT4_MAX = 2_147_483_647
SeatCount = Annotated[int, Field(ge=0, le=INT4_MAX)]


class WaveCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: int = Field(gt=0, le=INT4_MAX, description="Wave number; waves are created in order")
    opens_at: AwareDatetime
    closes_at: AwareDatetime = Field(description="Cut-off: verified later means the next wave")
    total_quota: int | None = Field(
        default=None,
        ge=0,
        le=INT4_MAX,
        description="Seats in total; default 164,000 (the 2020 weekly wave)",
    )
    quotas: dict[str, SeatCount] | None = Field(
        default=None,
        description="Seats per province code; default: the total split by the shipped "
        "population weight table (BPS SP2020)",
    )


class WaveClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed_commitment: str = Field(
        description="sha256 (hex) of the seed's 64-character lowercase hex text, published now; "
        "the seed itself is revealed at the draw",
        min_length=64,
        max_length=64,
    )
    beacon_source: str = Field(
        min_length=1,
        max_length=BEACON_TEXT_MAX,
        description="The public randomness beacon whose value the draw will mix in, named so "
        "anyone can look the value up (e.g. 'drand quicknet, https://api.drand.sh/...')",
    )
    beacon_reference: str = Field(
        min_length=1,
        max_length=BEACON_TEXT_MAX,
        description="Which of its values: one fixed only after the close (e.g. 'round 12345678')",
    )
    beacon_due_at: AwareDatetime = Field(
        description="When that value is published; must be after the close, and the draw is "
        "refused before it"
    )


class WaveDraw(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: str = Field(min_length=64, max_length=64, description="32 random bytes as hex")
    beacon_reference: str | None = Field(
        default=None,
        max_length=BEACON_TEXT_MAX,
        description="The reference announced at close, exactly; names what beacon_value is. "
        "Required for every wave closed with a beacon (draw v2)",
    )
    beacon_value: str | None = Field(
        default=None,
        max_length=BEACON_TEXT_MAX,
        description="The value the beacon published for that reference, as published (UTF-8 "
        "text; surrounding whitespace is trimmed)",
    )


class WaveOut(BaseModel):
    number: int
    state: Literal["open", "closed", "drawn", "announced"]
    opens_at: datetime
    closes_at: datetime
    total_quota: int
    quotas: dict[str, int]
    returned_seats: dict[str, int]
    cutoff_at: datetime | None
    seed_commitment: str | None
    eligible_sha256: str | None
    eligible_count: int | None
    seed: str | None
    beacon_source: str | None
    beacon_reference: str | None
    beacon_due_at: datetime | None
    beacon_value: str | None
    selected: int | None
    waitlisted: int | None
    algorithm_version: str | None
    selected_by_province_and_tier: dict[str, dict[int, int]]
    created_at: datetime | None
    closed_at: datetime | None
    drawn_at: datetime | None
    announced_at: datetime | None

    @classmethod
    def of(cls, wave: Wave) -> WaveOut:
        # Every field is the wave's attribute of the same name, but for these two.
        shown = {name: getattr(wave, name) for name in cls.model_fields if hasattr(wave, name)}
        return cls(
            **shown
            | {
                # The seed is secret until the draw has used it.
                "seed": wave.seed if wave.state in ("drawn", "announced") else None,
                "selected_by_province_and_tier": wave.filled,
            }
        )


class Announced(BaseModel):
    wave: WaveOut
    decisions_queued: int


class RowErrorOut(BaseModel):
    line: int
    code: str
    message: str


class ImportOut(BaseModel):
    kind: Literal["labour_office", "social_aid"]
    rows: int
    added: int
    changed: int
    unchanged: int
    errors: list[RowErrorOut]

    @classmethod
    def of(cls, kind: Literal["labour_office", "social_aid"], report: ImportReport) -> ImportOut:
        # The report's counts and row errors field for field; the answer adds which list it was.
        return cls.model_validate({"kind": kind, **asdict(report)})


class TrainingStarted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registration_ids: list[UUID] = Field(min_length=1, max_length=10_000)


class TrainingStartedOut(BaseModel):
    recorded: int
