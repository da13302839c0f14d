"""Request and response models of the assisted-registration API.

The sign-up body is the public one (``RegistrationRequest``: same NIK, date, name, region and
contact-format rules, same error codes) with two differences for a walk-in registered by an
officer: ``attested_id_card_seen`` must be true, and neither email nor phone is required, because
the officer's attestation replaces the contact check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gelombang import regions
from services.registration.schemas import RegistrationRequest

#: Error codes added by this module on top of ``services.registration.schemas.ERROR_CODES``.
ERROR_CODES: frozenset[str] = frozenset({"attestation_required"})


class AssistedRegistrationRequest(RegistrationRequest):
    attested_id_card_seen: StrictBool

    # Same name as the public validator, so it replaces it (pydantic keeps one validator per
    # name along the MRO): the format check is the public one, only "one contact required" goes.
    @field_validator("email")
    @classmethod
    def _email_and_contact(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return RegistrationRequest._email_and_contact(value, info)

    @field_validator("attested_id_card_seen")
    @classmethod
    def _attested(cls, value: bool) -> bool:
        if not value:
            raise PydanticCustomError(
                "attestation_required", "The officer must confirm having seen the ID card (KTP)"
            )
        return value


class AssistedAccepted(BaseModel):
    registration_id: UUID
    status_token: str
    status_url: str


class BatchAccepted(BaseModel):
    batch_id: UUID
    status_url: str
    errors_url: str
    total_rows: int
    invalid_rows: int


BatchState = Literal["processing", "done"]


class BatchCounts(BaseModel):
    total: int = 0
    pending: int = 0
    accepted: int = 0
    already_submitted: int = 0
    invalid: int = 0
    rejected: int = 0
    failed: int = 0


class BatchProgress(BaseModel):
    batch_id: UUID
    state: BatchState
    created_at: datetime
    finished_at: datetime | None
    counts: BatchCounts
    errors_url: str


class SubmissionOut(BaseModel):
    registration_id: UUID
    #: The read model's status; ``submitted`` until the projector has stored it.
    status: str
    reason: str | None
    nik_last4: str | None
    province_code: str | None
    regency_code: str | None
    channel: str | None
    officer_id: UUID
    batch_id: UUID | None
    submitted_at: datetime


class SubmissionList(BaseModel):
    posko_id: UUID
    items: list[SubmissionOut]
    #: Pass as ``before`` to get the next (older) page; None on the last page.
    next_before: datetime | None


# -- Admin --------------------------------------------------------------------------------


class PoskoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    province_code: str
    regency_code: str

    @field_validator("province_code")
    @classmethod
    def _province(cls, value: str) -> str:
        if not regions.is_province(value):
            raise PydanticCustomError("province_unknown", "Unknown province code")
        return value

    @field_validator("regency_code")
    @classmethod
    def _regency(cls, value: str, info: ValidationInfo) -> str:
        province = info.data.get("province_code")
        if regions.regency_name(value) is None:
            raise PydanticCustomError("regency_unknown", "Unknown regency/city code")
        if isinstance(province, str) and not regions.regency_in_province(value, province):
            raise PydanticCustomError(
                "regency_not_in_province", "The regency/city is not in the province"
            )
        return value


class PoskoOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # built from repository rows

    id: UUID
    name: str
    province_code: str
    regency_code: str


class OfficerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    posko_id: UUID
    name: str = Field(min_length=1, max_length=200)


class OfficerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # built from repository rows

    id: UUID
    posko_id: UUID
    name: str
    active: bool
    created_at: datetime
    revoked_at: datetime | None


class OfficerKeyIssued(BaseModel):
    officer: OfficerOut
    #: Shown once; only its sha256 is stored.
    api_key: str
