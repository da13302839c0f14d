import re
import string
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from gelombang.messages import (
    MESSAGES,
    FieldError,
    localize_validation_errors,
    message,
    pick_language,
)
from gelombang.nik import NIK_ERROR_CODES
from services.registration.schemas import ERROR_CODES, RegistrationRequest

API_CODES = {
    "validation_failed",
    "nik_already_registered",
    "idempotency_key_conflict",
    "idempotency_key_invalid",
    "service_unavailable",
    "not_found",
    "rate_limited",
}
GENERIC_CODES = {
    "missing",
    "string_type",
    "bool_type",
    "date_invalid",
    "choice_invalid",
    "string_too_long",
    "string_too_short",
    "extra_forbidden",
    "json_invalid",
    "body_not_object",
    "invalid",
}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "id"),
        ("", "id"),
        ("*", "id"),
        ("en", "en"),
        ("en-US", "en"),
        ("EN-gb", "en"),
        ("id", "id"),
        ("id-ID", "id"),
        ("in", "id"),
        ("fr", "id"),
        ("fr-FR, de;q=0.9", "id"),
        ("fr, en;q=0.5", "en"),
        ("en-US,en;q=0.9,id;q=0.8", "en"),
        ("id-ID,id;q=0.9,en-US;q=0.8,en;q=0.7", "id"),
        ("id;q=0.5, en;q=0.8", "en"),
        ("en;q=0.5, id;q=0.8", "id"),
        ("en;q=0", "id"),
        ("id;q=0, en", "en"),
        ("en, id", "en"),  # equal q: the earlier one
        ("id, en", "id"),
        ("*;q=0.9, en;q=0.5", "id"),
        ("en;q=abc", "id"),  # an unreadable q is ignored, not trusted
        ("en;q=2", "id"),
        ("en; q=0.9 , id ; q=0.1", "en"),
        (";;;,,,=", "id"),
        ("en-" + "x" * 10_000, "en"),
        (",".join(["fr"] * 10_000) + ",en", "id"),  # past the ranges we read
    ],
)
def test_pick_language(header: str | None, expected: str) -> None:
    assert pick_language(header) == expected


def test_every_code_the_validators_raise_has_both_languages() -> None:
    assert NIK_ERROR_CODES <= ERROR_CODES
    missing = (ERROR_CODES | API_CODES | GENERIC_CODES) - MESSAGES.keys()
    assert not missing


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_translations_are_complete_and_use_the_same_placeholders(code: str) -> None:
    texts = MESSAGES[code]
    assert set(texts) == {"id", "en"}
    assert texts["id"].strip() and texts["en"].strip()
    assert texts["id"] != texts["en"]
    assert _placeholders(texts["id"]) == _placeholders(texts["en"])


def test_message_fills_placeholders() -> None:
    assert message("string_too_long", "id", max_length=100) == "Maksimal 100 karakter."
    assert message("string_too_long", "en", max_length=100) == "At most 100 characters."


def test_message_without_its_placeholder_falls_back_instead_of_raising() -> None:
    assert message("choice_invalid", "id") == "Pilihan tidak valid."
    assert "{" not in message("string_too_short", "en")


def test_message_for_an_unknown_code_is_the_generic_one() -> None:
    assert message("no_such_code", "id") == MESSAGES["invalid"]["id"]
    assert message("no_such_code", "en", code="x", lang="y") == MESSAGES["invalid"]["en"]


def test_indonesian_is_the_default_language_of_the_nik_message() -> None:
    assert message("nik_format", "id") == "NIK harus terdiri dari 16 angka."


def _real_errors() -> list[dict[str, Any]]:
    data = {
        "nik": "32750117089",
        "full_name": "Budi",
        "birth_date": "1990-08-17",
        "province_code": "32",
        "regency_code": "3275",
        "employment_status": "retired",
        "in_formal_education": True,
        "receives_social_aid": "no",
        "consent": True,
        "extra": 1,
    }
    with pytest.raises(ValidationError) as caught:
        RegistrationRequest.model_validate(data, context={"today": date(2020, 4, 11)})
    # What FastAPI's RequestValidationError.errors() looks like: the location starts with "body".
    return [{**e, "loc": ("body", *e["loc"])} for e in caught.value.errors()]


def test_localized_errors_are_indonesian_by_default() -> None:
    out = {e.field: e for e in localize_validation_errors(_real_errors(), pick_language(None))}
    assert set(out) == {
        "nik",
        "email",
        "employment_status",
        "in_formal_education",
        "receives_social_aid",
        "extra",
    }
    assert out["nik"] == FieldError("nik", "nik_format", "NIK harus terdiri dari 16 angka.")
    assert out["email"].code == "contact_required"
    assert out["receives_social_aid"].code == "bool_type"
    assert out["extra"].code == "extra_forbidden"
    assert out["employment_status"] == FieldError(
        "employment_status",
        "choice_invalid",
        "Pilihan tidak valid. Pilih salah satu dari: "
        "laid_off, furloughed, job_seeker, micro_business, migrant_worker.",
    )
    assert "pendidikan formal" in out["in_formal_education"].message


def test_localized_errors_are_english_when_asked() -> None:
    out = {e.field: e for e in localize_validation_errors(_real_errors(), pick_language("en-US"))}
    assert out["nik"].message == "The NIK must be exactly 16 digits."
    assert out["employment_status"].message.startswith("Invalid choice. Choose one of: laid_off")


def test_body_level_errors_have_an_empty_field() -> None:
    raw: list[dict[str, Any]] = [
        {"type": "json_invalid", "loc": ("body", 17), "msg": "JSON decode error", "ctx": {}},
        {"type": "model_attributes_type", "loc": ("body",), "msg": "..."},
        {"type": "missing", "loc": ("body",), "msg": "Field required"},
    ]
    out = localize_validation_errors(raw, "id")
    assert [(e.field, e.code) for e in out] == [
        ("", "json_invalid"),
        ("", "body_not_object"),
        ("", "body_not_object"),
    ]


def test_pydantic_types_map_to_our_codes() -> None:
    raw: list[dict[str, Any]] = [
        {"type": "date_from_datetime_parsing", "loc": ("body", "birth_date")},
        {"type": "bool_parsing", "loc": ("body", "consent")},
        {"type": "string_too_long", "loc": ("body", "full_name"), "ctx": {"max_length": 100}},
        {"type": "enum", "loc": ("body", "x"), "ctx": {"expected": "'a' or 'b'"}},
        {"type": "literal_error", "loc": ("body", "gender")},
        {"type": "value_error", "loc": ("body", "nik"), "ctx": {"error": ValueError("x")}},
    ]
    out = localize_validation_errors(raw, "en")
    assert [(e.field, e.code) for e in out] == [
        ("birth_date", "date_invalid"),
        ("consent", "bool_type"),
        ("full_name", "string_too_long"),
        ("x", "choice_invalid"),
        ("gender", "choice_invalid"),
        ("nik", "invalid"),
    ]
    assert out[2].message == "At most 100 characters."
    assert out[3].message == "Invalid choice. Choose one of: a, b."
    assert out[4].message == "Invalid choice."


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("boom")

    __repr__ = __str__
    __format__ = None  # type: ignore[assignment]


def _exploding() -> Iterator[Mapping[str, Any]]:
    yield {"type": "missing", "loc": ("body", "nik")}
    raise RuntimeError("broken iterator")


@pytest.mark.parametrize(
    "garbage",
    [
        [],
        [{}],
        [None, 1, "x", b"y"],
        [{"type": 5, "loc": 5}],
        [{"type": ["missing"], "loc": None, "ctx": "nope"}],
        [{"type": "string_too_long", "ctx": {"max_length": _Unprintable()}}],
        [{"type": "missing", "loc": ("body", _Unprintable())}],
        [{"type": "choice_invalid", "ctx": {"expected": 3}}],
        [{"type": "literal_error", "ctx": {"expected": "{0}{1}{__class__}"}}],
        [{"type": "invalid", "loc": ("body",) * 1000}],
        _exploding(),
        None,
        42,
    ],
)
def test_localize_never_raises(garbage: Any) -> None:
    out = localize_validation_errors(garbage, "id")
    assert all(isinstance(e, FieldError) and e.message for e in out)
    assert all(not re.search(r"\{\w*\}", e.message) for e in out)


def test_localize_accepts_any_sequence_of_mappings() -> None:
    errors: Sequence[Mapping[str, Any]] = ({"type": "missing", "loc": ["body", "email"]},)
    assert localize_validation_errors(errors, "id") == [
        FieldError("email", "missing", "Wajib diisi.")
    ]
