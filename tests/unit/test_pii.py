from __future__ import annotations

import pytest

from gelombang.pii import PiiCipher, PiiError
from gelombang.settings import AdminSettings, CommonSettings


def cipher() -> PiiCipher:
    return PiiCipher(bytes(range(32)), bytes(range(32, 64)))


def test_sealed_value_opens_only_for_the_record_it_is_bound_to() -> None:
    sealed = cipher().seal(b"3275011705900001", bound_to="reg-1")
    assert b"3275011705900001" not in sealed.encode()
    assert cipher().open(sealed, bound_to="reg-1") == b"3275011705900001"
    with pytest.raises(PiiError):
        cipher().open(sealed, bound_to="reg-2")


def test_nik_hash_is_keyed() -> None:
    other = PiiCipher(bytes(32), bytes(32))
    assert cipher().nik_hash("3275011705900001") != other.nik_hash("3275011705900001")
    assert len(cipher().nik_hash("3275011705900001")) == 64


def test_status_token_is_checked_per_registration() -> None:
    token = cipher().status_token("reg-1")
    assert cipher().check_status_token("reg-1", token)
    assert not cipher().check_status_token("reg-2", token)
    assert not cipher().check_status_token("reg-1", token[:-1] + "x")


@pytest.mark.parametrize(
    "presented",
    [
        # Header bytes 0x80-0xFF reach the app as these characters (Starlette decodes latin-1).
        b"\xff\xfe\x00abc".decode("latin-1"),
        "\xe9" * 32,  # as long as a real token, so only the bytes can tell them apart
        "\xe9" * 100_000,
        "\ud800",  # no header carries a lone surrogate, but no str may make the check raise
        "",
    ],
)
def test_a_status_token_of_any_text_is_refused_not_an_error(presented: str) -> None:
    assert not cipher().check_status_token("reg-1", presented)


def test_an_admin_token_of_any_text_is_refused_not_an_error() -> None:
    settings = AdminSettings(_env_file=None, env="dev", admin_token="t" * 40)
    assert settings.admin_token_matches("t" * 40)
    for presented in ("\xff\xfe" + "t" * 38, "\xe9" * 40, "t" * 100_000, "\udcff", ""):
        assert not settings.admin_token_matches(presented)


def test_placeholder_keys_are_refused_outside_dev() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        CommonSettings(_env_file=None, env="production", nik_hmac_key="0" * 64, pii_key="0" * 64)
    dev = CommonSettings(_env_file=None, env="dev", nik_hmac_key="0" * 64, pii_key="0" * 64)
    assert len(dev.pii_key_bytes) == 32


def test_missing_keys_are_a_clear_startup_error() -> None:
    with pytest.raises(ValueError, match="NIK_HMAC_KEY is not set"):
        CommonSettings(_env_file=None, env="dev", nik_hmac_key="", pii_key="")
