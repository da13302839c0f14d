"""Structural validation of the NIK (Nomor Induk Kependudukan).

Layout: PP KK CC DDMMYY SSSS = province, regency, district, birth date (women add 40 to the day),
serial from 0001. There is no check digit, so structure is all that can be checked offline: a NIK
that passes may still not exist at Dukcapil; one that fails cannot be anybody's NIK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from gelombang import regions

# [0-9], not \d or str.isdigit(): those accept full-width and other Unicode digits, which
# Dukcapil never issues and which would not match the stored NIK later.
_SIXTEEN_DIGITS = re.compile(r"[0-9]{16}", re.ASCII)

NIK_ERROR_CODES: frozenset[str] = frozenset(
    {
        "nik_format",
        "nik_province_unknown",
        "nik_regency_unknown",
        "nik_date_invalid",
        "nik_serial_zero",
    }
)

_ENGLISH = {
    "nik_format": "NIK must be exactly 16 digits",
    "nik_province_unknown": "The province code in the NIK does not exist",
    "nik_regency_unknown": "The regency/city code in the NIK does not exist in its province",
    "nik_date_invalid": "The birth date encoded in the NIK is not a real date",
    "nik_serial_zero": "The serial number in the NIK cannot be 0000",
}

Gender = Literal["M", "F"]


class NikError(ValueError):
    """A NIK that cannot be valid; ``code`` is one of ``NIK_ERROR_CODES``."""

    def __init__(self, code: str) -> None:
        super().__init__(_ENGLISH.get(code, code))
        self.code = code


def _real_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class ParsedNik:
    province_code: str
    regency_code: str
    district_code: str
    gender: Gender
    birth_day: int
    birth_month: int
    birth_year_2d: int
    serial: str

    @property
    def last4(self) -> str:
        return self.serial

    def birth_date_candidates(self) -> list[date]:
        """The 19xx and 20xx readings that are real dates, oldest first.

        The NIK only has two year digits, so both centuries stay possible; 29 Feb 00 is real
        in 2000 but not in 1900.
        """
        found = (
            _real_date(century + self.birth_year_2d, self.birth_month, self.birth_day)
            for century in (1900, 2000)
        )
        return [d for d in found if d is not None]

    def matches_birth_date(self, d: date) -> bool:
        return (
            d.day == self.birth_day
            and d.month == self.birth_month
            and d.year % 100 == self.birth_year_2d
        )


def parse_nik(nik: str) -> ParsedNik:
    """Parse and structurally validate a NIK, raising ``NikError`` with the first problem found.

    Only surrounding whitespace is removed. Separators or look-alike digits are refused rather
    than repaired: the NIK is later matched against Dukcapil exactly as typed.
    """
    digits = nik.strip()
    if not _SIXTEEN_DIGITS.fullmatch(digits):
        raise NikError("nik_format")

    province, regency = digits[0:2], digits[0:4]
    if not regions.is_province(province):
        raise NikError("nik_province_unknown")
    # nik_regency_known, not regency_in_province: NIKs keep pre-split codes for life (see regions).
    if not regions.nik_regency_known(regency):
        raise NikError("nik_regency_unknown")

    raw_day, month, year_2d = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    gender: Gender = "F" if raw_day > 40 else "M"
    day = raw_day - 40 if gender == "F" else raw_day

    parsed = ParsedNik(
        province_code=province,
        regency_code=regency,
        district_code=digits[0:6],
        gender=gender,
        birth_day=day,
        birth_month=month,
        birth_year_2d=year_2d,
        serial=digits[12:16],
    )
    if not parsed.birth_date_candidates():
        raise NikError("nik_date_invalid")
    if parsed.serial == "0000":
        raise NikError("nik_serial_zero")
    return parsed


def nik_last4(nik: str) -> str:
    """Last four digits for display and support ("…0001"); never log or show the full NIK."""
    return nik.strip()[-4:]
