"""Settings building blocks shared by every service.

Every value comes from the environment (prefix ``GELOMBANG_``). On a developer machine the local
stack writes ``.run/stack.env`` with generated dev keys; it is read when present so that tests and
ad-hoc commands see the same configuration as the running services.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_ENV = REPO_ROOT / ".run" / "stack.env"

#: How long an API process keeps an idle keep-alive connection from the gateway. It must outlast
#: the gateway's own idle timeout for upstream connections (nginx `keepalive_timeout` in the
#: upstream blocks, 60 s): otherwise the process closes a connection just as nginx sends the next
#: request on it, nginx reads a reset, and since it never re-sends a POST the person gets a 502.
#: `make chaos` found three such 502s under overload with uvicorn's default of 5 s.
GATEWAY_KEEP_ALIVE_S = 75

# Keys that ship in examples and compose files. A deployment that still uses one of these would
# let anyone who read our docs decrypt NIKs, so outside dev they are refused at startup.
PLACEHOLDER_KEYS = frozenset({"0" * 64, "change-me", "changeme", "dev"})
# The local stack's database credentials: fine on loopback, refused anywhere else.
DEV_DATABASE_PASSWORD = "gelombang"  # noqa: S105 - the known dev value, listed to be refused
DEV_DATABASE_URL = f"postgresql://gelombang:{DEV_DATABASE_PASSWORD}@127.0.0.1:5432/gelombang"


KafkaProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]


@dataclass(frozen=True)
class KafkaAuth:
    """Who a Kafka client is and how it proves it: every client of the project is built with one
    (``gelombang.kafka.aiokafka_auth``, ``gelombang.rdkafka.librdkafka_auth``)."""

    protocol: KafkaProtocol = "PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str = ""  # PEM of the CA that signed the brokers' certificates (SASL_SSL)

    @property
    def sasl(self) -> bool:
        """Whether the client logs in; if so, with a username and password or not at all."""
        if self.protocol == "PLAINTEXT":
            return False
        if not self.username or not self.password:
            raise ValueError(
                f"Kafka over {self.protocol} needs GELOMBANG_KAFKA_USERNAME and"
                " GELOMBANG_KAFKA_PASSWORD"
            )
        return True

    def as_user(self, username: str, password: str) -> KafkaAuth:
        """The same connection settings with another principal (tests and the stack's setup)."""
        return KafkaAuth(self.protocol, self.mechanism, username, password, self.ca_file)


def refuse_dev_secret(settings: CommonSettings, name: str, value: str) -> None:
    """Outside dev, a secret that is empty, a placeholder or a shipped development value
    ("dev-...") refuses to start: it is in this repository for anyone to read."""
    if settings.env == "dev":
        return
    if value == "" or value in PLACEHOLDER_KEYS or value.startswith("dev-"):
        raise ValueError(
            f"GELOMBANG_{name.upper()} is unset or a development value; refusing to start "
            f"outside dev (GELOMBANG_ENV={settings.env})"
        )


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GELOMBANG_", env_file=STACK_ENV, env_file_encoding="utf-8", extra="ignore"
    )

    # Production unless said otherwise: a deployment that forgets to set it must get the checks
    # that refuse development keys, not skip them. `make up` writes GELOMBANG_ENV=dev into
    # .run/stack.env; the test suites choose dev themselves (tests/conftest.py).
    env: Literal["dev", "test", "staging", "production"] = "production"
    service_name: str = "gelombang"
    log_level: str = "INFO"

    kafka_bootstrap: str = "127.0.0.1:9092"
    # The service's own Kafka principal (SASL/SCRAM): the brokers' ACLs let each principal write
    # only the topics its service owns and read only what it consumes (gelombang.kafka_access).
    # Unset, the protocol is SASL_SSL outside dev; in dev SASL_PLAINTEXT when a username is
    # given (the local stack's loopback brokers), PLAINTEXT otherwise.
    kafka_security_protocol: KafkaProtocol | None = None
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_username: str = ""
    kafka_password: str = Field(default="", repr=False)
    kafka_ca_file: str = ""
    database_url: str = DEV_DATABASE_URL
    redis_url: str = "redis://127.0.0.1:6379/0"
    public_base_url: str = "http://127.0.0.1:8080"

    # 32-byte keys as hex. The HMAC key makes the NIK lookup hash; the PII key encrypts NIK and
    # contact data (AES-256-GCM) in events and in Postgres.
    nik_hmac_key: str = Field(default="", repr=False)
    pii_key: str = Field(default="", repr=False)

    topic_partitions: int = 12
    # Replicas of every application topic (3 with `make up KAFKA_BROKERS=3`, in compose and in
    # Kubernetes), and how many must have a write before it is acknowledged: a majority of
    # them, worked out by the local stack from its layout (deploy/local/kafka_cluster.py).
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_min_insync_replicas: int = Field(default=1, ge=1)

    # Addresses or networks (comma-separated, e.g. "10.42.0.0/16,127.0.0.1") whose
    # X-Forwarded-For an API believes: the gateway's, and nobody else's. The client address
    # decides the per-address limits; trusting a wider range lets anyone in it pick theirs.
    trusted_proxies: str = "127.0.0.1"

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for item in value.split(","):
            item = item.strip()
            if item in ("", "*"):
                # "*" would believe every sender; uvicorn accepts it, we do not.
                raise ValueError(f"{item!r} is not an address or network")
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an address or network") from exc
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [item.strip() for item in self.trusted_proxies.split(",")]

    @field_validator("nik_hmac_key", "pii_key")
    @classmethod
    def _key_shape(cls, value: str) -> str:
        if value in PLACEHOLDER_KEYS or value == "":
            return value
        try:
            raw = bytes.fromhex(value)
        except ValueError as exc:
            raise ValueError("must be 64 hex characters (32 bytes)") from exc
        if len(raw) != 32:
            raise ValueError("must be 64 hex characters (32 bytes)")
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_keys(self) -> CommonSettings:
        for name in ("nik_hmac_key", "pii_key"):
            value: str = getattr(self, name)
            if value == "":
                raise ValueError(
                    f"GELOMBANG_{name.upper()} is not set; `make up` generates dev keys into "
                    ".run/stack.env, deployments must provide their own"
                )
            if value in PLACEHOLDER_KEYS and self.env != "dev":
                raise ValueError(f"GELOMBANG_{name.upper()} is a placeholder; refusing to start")
        if self.env != "dev" and urlsplit(self.database_url).password == DEV_DATABASE_PASSWORD:
            raise ValueError(
                "GELOMBANG_DATABASE_URL has the development password; refusing to start outside dev"
            )
        if self.env != "dev" and self.kafka_security_protocol == "PLAINTEXT":
            # Without authentication any pod could publish a verified registration.
            raise ValueError(
                "GELOMBANG_KAFKA_SECURITY_PROTOCOL=PLAINTEXT; refusing to start outside dev"
            )
        return self

    @property
    def kafka_auth(self) -> KafkaAuth:
        protocol = self.kafka_security_protocol
        if protocol is None:
            protocol = (
                "SASL_SSL"
                if self.env != "dev"
                else "SASL_PLAINTEXT"
                if self.kafka_username
                else "PLAINTEXT"
            )
        return KafkaAuth(
            protocol,
            self.kafka_sasl_mechanism,
            self.kafka_username,
            self.kafka_password,
            self.kafka_ca_file,
        )

    @property
    def nik_hmac_key_bytes(self) -> bytes:
        return _key_bytes(self.nik_hmac_key)

    @property
    def pii_key_bytes(self) -> bytes:
        return _key_bytes(self.pii_key)


def _key_bytes(value: str) -> bytes:
    if value in PLACEHOLDER_KEYS:
        # Only reachable in dev: derive a stable 32-byte key so a placeholder still works there.
        return hashlib.sha256(value.encode()).digest()
    return bytes.fromhex(value)


class OutboxRelaySettings(CommonSettings):
    """A process that relays its service's outbox to Kafka (the projector, selection's worker)."""

    outbox_batch: int = 1000


class ContactChangeSettings(CommonSettings):
    """Changes of a contact not confirmed yet (issue 20), per case: registration's API refuses
    more than this, and verification's worker, which applies them, keeps the same cap as its
    backstop. A person who mistyped twice gets through; more is someone else's business, for
    the help desk. Each new contact starts its own count of sends."""

    contact_change_limit: int = 3


class ContactSendSettings(CommonSettings):
    """How often one registration's contact message goes out (issue 20): verification's worker
    sends it, registration's API takes the requests to send it again; the two caps fit together."""

    # Each SMS costs money: the worker sends at most this many codes per registration and per
    # phone per day, the first one included.
    sms_daily_limit: int = 5
    # Resends per registration (and per contact, after a change), one fewer than the worker's
    # cap: the fifth resend would be dropped without a word, so the API refuses it instead, with
    # a message saying why.
    otp_resend_limit: int = 4


# Shortest admin token accepted outside dev (32 characters: at least 24 random bytes in base64).
ADMIN_TOKEN_MIN_LENGTH = 32


class AdminSettings(CommonSettings):
    """Settings of a service with admin endpoints (waves, posko officers).

    GELOMBANG_ADMIN_TOKEN is the bearer token. In dev it may be left unset: it is then derived
    from the NIK HMAC key (stable across processes and secret like the key; print it with
    ``python -m gelombang.admin_token``). Outside dev a missing, placeholder or short token
    refuses to start.
    """

    admin_token: str = Field(default="", repr=False)

    @model_validator(mode="after")
    def _refuse_weak_admin_token(self) -> AdminSettings:
        if self.env == "dev":
            return self
        if self.admin_token == "" or self.admin_token in PLACEHOLDER_KEYS:
            raise ValueError("GELOMBANG_ADMIN_TOKEN is not set or a placeholder; refusing to start")
        if len(self.admin_token) < ADMIN_TOKEN_MIN_LENGTH:
            raise ValueError(
                f"GELOMBANG_ADMIN_TOKEN must be at least {ADMIN_TOKEN_MIN_LENGTH} characters"
            )
        return self

    @property
    def effective_admin_token(self) -> str:
        if self.admin_token and self.admin_token not in PLACEHOLDER_KEYS:
            return self.admin_token
        digest = hmac.new(self.nik_hmac_key_bytes, b"gelombang/admin-token/v1", hashlib.sha256)
        return digest.hexdigest()

    def admin_token_matches(self, presented: str) -> bool:
        # Bytes, never str: compare_digest raises TypeError on non-ASCII text, and a header
        # arrives as latin-1 text. surrogatepass: no str at all (an undecodable environment
        # variable holds lone surrogates) can make the comparison raise.
        return hmac.compare_digest(
            presented.encode("utf-8", "surrogatepass"),
            self.effective_admin_token.encode("utf-8", "surrogatepass"),
        )
