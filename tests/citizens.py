"""Test citizens: valid, unique sign-up payloads (random NIK serials so runs never collide)."""

from __future__ import annotations

import random
from datetime import date
from typing import Any


def valid_payload(**overrides: Any) -> dict[str, Any]:
    born = date(1990, 5, 17)
    female = bool(overrides.pop("_female", False))
    day = born.day + (40 if female else 0)
    rng = random.SystemRandom()
    # Kota Bekasi (32.75) in Jawa Barat; district and serial random to keep NIKs unique.
    nik = f"3275{rng.randint(1, 12):02d}{day:02d}{born:%m%y}{rng.randint(1, 9999):04d}"
    payload: dict[str, Any] = {
        "nik": nik,
        "full_name": "Siti Rahayu" if female else "Budi Santoso",
        "birth_date": born.isoformat(),
        "gender": "F" if female else "M",
        "email": "pendaftar@example.co.id",
        "phone": "+6281234567890",
        "province_code": "32",
        "regency_code": "3275",
        "employment_status": "laid_off",
        "in_formal_education": False,
        "receives_social_aid": False,
        "consent": True,
    }
    payload.update(overrides)
    return payload
