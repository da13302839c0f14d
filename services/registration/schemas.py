"""Request and response models of the registration API.

Every rule raises ``PydanticCustomError(code, english_text)`` so the code arrives as the error
``type`` and ``gelombang.messages`` can answer in the registrant's language. Cross-field rules live
in the validator of the *later* field (pydantic validates fields in declaration order and
``info.data`` holds the earlier fields that were valid), so each error points at a field the form
can highlight:

- ``nik_birth_date_mismatch`` → ``birth_date`` (the NIK is checked on its own first)
- ``nik_gender_mismatch`` → ``gender``
- ``contact_required`` → ``email`` (``phone`` is declared before ``email`` for this reason)
- ``regency_not_in_province`` → ``regency_code``

A cross-field rule is skipped when the earlier field already failed: that field has its own error
and a second one about the same typo would only confuse.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gelombang import regions
from gelombang.nik import NIK_ERROR_CODES, NikError, parse_nik

JAKARTA = ZoneInfo("Asia/Jakarta")
MIN_AGE = 18
MAX_AGE = 120
FULL_NAME_MAX_LENGTH = 100

EmploymentStatus = Literal[
    "laid_off", "furloughed", "job_seeker", "micro_business", "migrant_worker"
]

#: Every error code this module (and the NIK parser it calls) can put in an error's ``type``.
ERROR_CODES: frozenset[str] = NIK_ERROR_CODES | {
    "nik_birth_date_mismatch",
    "nik_gender_mismatch",
    "date_invalid",
    "birth_date_in_future",
    "birth_date_implausible",
    "age_under_18",
    "full_name_invalid",
    "in_formal_education",
    "consent_required",
    "contact_required",
    "email_invalid",
    "phone_invalid",
    "phone_not_mobile",
    "phone_not_indonesian",
    "province_unknown",
    "regency_unknown",
    "regency_not_in_province",
}

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_PROVINCE_CODE = re.compile(r"[0-9]{2}", re.ASCII)
_REGENCY_CODE = re.compile(r"[0-9]{4}", re.ASCII)
_NAME_PUNCTUATION = frozenset(" .,'-")
# Phone keyboards with "smart punctuation" (iOS by default) turn ' into U+2019 as people type names
# such as Ma'ruf; refusing that would reject people for their keyboard's choice.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'"})
_PHONE_CHARS = re.compile(r"\+?[0-9 ()./-]{6,24}", re.ASCII)


def _error(code: str, english: str) -> PydanticCustomError:
    return PydanticCustomError(code, english)


def today_from(info: ValidationInfo) -> date:
    """The registration day: ``context["today"]`` when given (tests, replays), else Jakarta today.

    Jakarta, not UTC: between 00:00 and 07:00 WIB the UTC date is still yesterday, and someone
    turning 18 that day would be wrongly refused.
    """
    context = info.context
    if isinstance(context, dict):
        today = context.get("today")
        if isinstance(today, date) and not isinstance(today, datetime):
            return today
    return datetime.now(JAKARTA).date()


def eighteenth_birthday(born: date) -> date:
    """The day someone turns 18.

    Someone born on 29 February has their birthday on 1 March in common years: read as "has had
    their birthday", a 29 February birthday is only reached once February is over. So a person
    born 29 Feb 2008 turns 18 on 1 Mar 2026, not on 28 Feb.
    """
    year = born.year + MIN_AGE
    try:
        return born.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


def normalize_phone(value: str) -> str:
    """An Indonesian mobile number in E.164, as stored; raises the field's error otherwise."""
    # phonenumbers also reads letters (vanity numbers) and very long junk; neither is a
    # phone number a registrant would type.
    if not _PHONE_CHARS.fullmatch(value):
        raise _error("phone_invalid", "Not a valid phone number")
    try:
        number = phonenumbers.parse(value, "ID")
    except phonenumbers.NumberParseException:
        raise _error("phone_invalid", "Not a valid phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise _error("phone_invalid", "Not a valid phone number")
    if phonenumbers.region_code_for_number(number) != "ID":
        raise _error("phone_not_indonesian", "The mobile number must be Indonesian (+62)")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise _error("phone_not_mobile", "Use a mobile number, not a landline")
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164


def normalize_email(value: str) -> str:
    """An email address as stored (``email_validator``'s normal form); raises otherwise."""
    try:
        # No deliverability (DNS) check: it would put a network call in the hot path at peak.
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise _error("email_invalid", "Not a valid email address") from None
    normalized: str = result.normalized
    return normalized


class NikRule:
    """A model's ``nik`` field is a structurally valid NIK (gelombang.nik's codes as errors)."""

    @field_validator("nik", check_fields=False)
    @classmethod
    def _nik_structure(cls, value: str) -> str:
        try:
            parse_nik(value)
        except NikError as exc:
            raise _error(exc.code, str(exc)) from None
        return value


class ContactRules:
    """The sign-up form's contact rules, for a model with ``phone`` and ``email`` fields (phone
    declared first): a blank one is not given, a given one is normalised, and one of the two is
    required. Pydantic takes the validators from this base; the model declares the fields."""

    @field_validator("phone", "email", mode="before", check_fields=False)
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        # Web forms send "" for an untouched input; that means "no phone", not a bad phone.
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("phone", check_fields=False)
    @classmethod
    def _phone_indonesian_mobile(cls, value: str | None) -> str | None:
        return None if value is None else normalize_phone(value)

    @field_validator("email", check_fields=False)
    @classmethod
    def _email_and_contact(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            # "phone" missing from info.data means it was given but invalid: it has its own error.
            if "phone" in info.data and info.data["phone"] is None:
                raise _error("contact_required", "Give an email address or a mobile number")
            return None
        return normalize_email(value)


class RegistrationRequest(NikRule, ContactRules, BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    nik: str
    full_name: Annotated[str, Field(min_length=1, max_length=FULL_NAME_MAX_LENGTH)]
    birth_date: date
    gender: Literal["M", "F"] | None = None
    phone: Annotated[str | None, Field(validate_default=True)] = None
    email: Annotated[str | None, Field(validate_default=True)] = None
    province_code: str
    regency_code: str
    employment_status: EmploymentStatus
    in_formal_education: StrictBool
    receives_social_aid: StrictBool
    consent: StrictBool

    @field_validator("full_name")
    @classmethod
    def _full_name_characters(cls, value: str) -> str:
        # NFC first so "é" typed as e + combining accent counts as one letter.
        name = unicodedata.normalize("NFC", value).translate(_APOSTROPHES)
        if not any(c.isalpha() for c in name) or not all(
            c.isalpha() or c in _NAME_PUNCTUATION for c in name
        ):
            raise _error(
                "full_name_invalid",
                "The full name may only contain letters, spaces and . , ' -",
            )
        return name

    @field_validator("birth_date", mode="before")
    @classmethod
    def _birth_date_format(cls, value: Any) -> Any:
        # Plain pydantic also takes datetimes, "2000-01-01T00:00:00" and Unix timestamps as dates;
        # a birth date typed as a number is a bug on the client, not a date.
        if isinstance(value, datetime):
            raise _error("date_invalid", "Use a date in the format YYYY-MM-DD")
        if isinstance(value, date):
            return value
        if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
            # Parsed here rather than by pydantic so an impossible day (1990-02-30) gets the same
            # code as a wrong format instead of pydantic's date_from_datetime_parsing.
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise _error("date_invalid", "Use a date in the format YYYY-MM-DD")

    @field_validator("birth_date")
    @classmethod
    def _birth_date_rules(cls, value: date, info: ValidationInfo) -> date:
        today = today_from(info)
        if value > today:
            raise _error("birth_date_in_future", "The birth date is in the future")
        age = today.year - value.year - ((today.month, today.day) < (value.month, value.day))
        if age > MAX_AGE:
            raise _error("birth_date_implausible", "The birth date is not plausible")
        nik = info.data.get("nik")
        # Checked before age: when the date disagrees with the NIK one of them is a typo, and
        # "you are under 18" computed from a typo would send the person away for no reason.
        if isinstance(nik, str) and not parse_nik(nik).matches_birth_date(value):
            raise _error("nik_birth_date_mismatch", "The birth date does not match the NIK")
        if eighteenth_birthday(value) > today:
            raise _error("age_under_18", "You must be at least 18 years old")
        return value

    @field_validator("gender")
    @classmethod
    def _gender_matches_nik(cls, value: str | None, info: ValidationInfo) -> str | None:
        nik = info.data.get("nik")
        if value is not None and isinstance(nik, str) and parse_nik(nik).gender != value:
            raise _error("nik_gender_mismatch", "The gender does not match the NIK")
        return value

    @field_validator("province_code")
    @classmethod
    def _province_exists(cls, value: str) -> str:
        if not _PROVINCE_CODE.fullmatch(value) or not regions.is_province(value):
            raise _error("province_unknown", "Unknown province code")
        return value

    @field_validator("regency_code")
    @classmethod
    def _regency_in_province(cls, value: str, info: ValidationInfo) -> str:
        if not _REGENCY_CODE.fullmatch(value) or regions.regency_name(value) is None:
            raise _error("regency_unknown", "Unknown regency/city code")
        province = info.data.get("province_code")
        if isinstance(province, str) and not regions.regency_in_province(value, province):
            raise _error("regency_not_in_province", "The regency/city is not in the province")
        return value

    @field_validator("in_formal_education")
    @classmethod
    def _not_in_formal_education(cls, value: bool) -> bool:
        if value:
            raise _error(
                "in_formal_education",
                "People currently in formal education are not eligible",
            )
        return value

    @field_validator("consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        if not value:
            raise _error("consent_required", "Consent is required to register")
        return value


class RegistrationAccepted(BaseModel):
    registration_id: UUID
    status_token: str
    status_url: str


class StatusHistoryEntry(BaseModel):
    status: str
    reason: str | None
    message: str | None
    at: datetime
    wave: int | None = None


ContactStep = Literal["pending", "sent", "confirmed", "failed"]


class ContactProgress(BaseModel):
    """Where the contact confirmation stands, apart from the overall status.

    The NIK check usually finishes first, so a status of ``nik_verified`` says nothing about
    whether the person still has to open the email or type the SMS code: this does.
    """

    method: Literal["email", "sms", "officer"]
    state: ContactStep = Field(
        description="pending: not sent yet; sent: waiting for the person; confirmed; "
        "failed: expired or undeliverable (the registration is rejected)"
    )
    hint: str = Field(description="The address or number, masked: n***@example.id, ****4321")
    confirm_by: datetime | None = Field(
        default=None,
        description="Unconfirmed contacts expire then, rejecting the registration: 48 hours "
        "from sign-up, or at least 24 hours from the latest change of contact",
    )
    kinds: list[Literal["email", "phone"]] = Field(
        default_factory=list,
        description="The kinds of contact on record: what a change of contact may replace",
    )
    changes: int = Field(
        default=0,
        description="How often the contact was changed; with state pending, the new contact's "
        "message is on its way",
    )
    resends_left: int | None = Field(
        default=None,
        description="While the contact waits: how many more times its message may be sent "
        "again (a change of contact starts a new count); null when it cannot be told right now",
    )
    resend_limit: int | None = Field(
        default=None, description="Resends allowed per contact, with resends_left"
    )


class RegistrationStatus(BaseModel):
    registration_id: UUID
    status: str
    nik_last4: str
    province_code: str
    regency_code: str
    submitted_at: datetime
    history: list[StatusHistoryEntry]
    wave: int | None = Field(
        default=None, description="The wave of the latest selection decision, if any"
    )
    contact: ContactProgress | None = None


class FieldErrorOut(BaseModel):
    field: str
    code: str
    message: str


class ErrorResponse(BaseModel):
    detail: str
    errors: list[FieldErrorOut] = Field(default_factory=list)


class OtpVerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    registration_id: UUID
    code: str = Field(max_length=16)


class OtpResendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registration_id: UUID


# The longest address SMTP can deliver to (RFC 5321); a phone number is far shorter.
CONTACT_MAX_LENGTH = 254


class StatusLinkRequest(NikRule, BaseModel):
    """"I lost my status link": the NIK and the email address or mobile number given at sign-up.

    One contact field: with an "@" it is read as an email address, otherwise as a mobile
    number, each by the sign-up rules, so that what the person types now normalises to what
    was stored then (0812… and +62812… are the same number).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    nik: str
    contact: Annotated[str, Field(max_length=CONTACT_MAX_LENGTH)]

    @field_validator("contact", mode="before")
    @classmethod
    def _contact_given(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise _error("contact_required", "Give an email address or a mobile number")
        return value

    @field_validator("contact")
    @classmethod
    def _contact_normalized(cls, value: str) -> str:
        return normalize_email(value) if "@" in value else normalize_phone(value)

    @property
    def contact_kind(self) -> Literal["email", "phone"]:
        return "email" if "@" in self.contact else "phone"


class StatusLinkAnswer(BaseModel):
    """The one answer to every admitted request, registered NIK or not."""

    status: Literal["status_link_requested"] = "status_link_requested"
    detail: str


class ContactChangeRequest(ContactRules, BaseModel):
    """A new email address and/or mobile number for a registration whose contact is not
    confirmed yet (issue 20), each checked by the sign-up form's rules."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    registration_id: UUID
    phone: Annotated[str | None, Field(validate_default=True, max_length=CONTACT_MAX_LENGTH)] = (
        None
    )
    email: Annotated[str | None, Field(validate_default=True, max_length=CONTACT_MAX_LENGTH)] = (
        None
    )

    def contact(self) -> dict[str, str]:
        """The contact to seal: only the kinds given."""
        given = {"email": self.email, "phone": self.phone}
        return {kind: value for kind, value in given.items() if value is not None}
