"""No development secret outside dev: what a deployment that forgot a setting gets.

Settings are built from the given values alone (no GELOMBANG_ENV from the test run, no
.run/stack.env), so each case says exactly what the deployment set.
"""

from __future__ import annotations

import secrets

import pytest

from gelombang.settings import CommonSettings
from services.verification.settings import VerificationSettings

REAL = {
    "nik_hmac_key": secrets.token_hex(32),
    "pii_key": secrets.token_hex(32),
    "database_url": "postgresql://intake:s3cret@db.internal:5432/gelombang",
}
API_KEYS = {"registry_api_key": "k" * 32, "sms_api_key": "s" * 32}


@pytest.fixture(autouse=True)
def _no_test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GELOMBANG_ENV", raising=False)


def common(values: dict[str, str]) -> CommonSettings:
    return CommonSettings(_env_file=None, **values)  # type: ignore[arg-type]


def verification(values: dict[str, str]) -> VerificationSettings:
    return VerificationSettings(_env_file=None, **values)  # type: ignore[arg-type]


def test_env_defaults_to_production() -> None:
    assert common(REAL).env == "production"


def test_outside_dev_placeholder_keys_and_the_dev_database_refuse_to_start() -> None:
    with pytest.raises(ValueError, match="PII_KEY is a placeholder"):
        common({**REAL, "pii_key": "0" * 64})
    with pytest.raises(ValueError, match="DATABASE_URL has the development password"):
        common({k: v for k, v in REAL.items() if k != "database_url"})
    with pytest.raises(ValueError, match="DATABASE_URL has the development password"):
        common({**REAL, "database_url": "postgresql://gelombang:gelombang@postgres:5432/g"})


@pytest.mark.parametrize("env", ["production", "staging", "test"])
def test_outside_dev_the_simulators_api_keys_refuse_to_start(env: str) -> None:
    deployed = {**REAL, "env": env}
    with pytest.raises(ValueError, match="REGISTRY_API_KEY is unset or a development value"):
        verification(deployed)
    with pytest.raises(ValueError, match="SMS_API_KEY is unset or a development value"):
        verification({**deployed, "registry_api_key": "k" * 32})
    with pytest.raises(ValueError, match="SMS_API_KEY"):
        verification({**deployed, **API_KEYS, "sms_api_key": ""})
    ok = verification({**deployed, **API_KEYS})
    assert "k" * 32 not in repr(ok)


def test_in_dev_the_development_values_work() -> None:
    dev = verification(
        {"env": "dev", "nik_hmac_key": "0" * 64, "pii_key": "0" * 64}
    )
    assert dev.registry_api_key == "dev-registry-key"
