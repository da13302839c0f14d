-- The applicant status read model, built by the projector from Kafka.
-- Personal data is stored sealed (AES-GCM, bound to the registration id); the NIK only as a
-- keyed hash (for "one NIK, one registration") and its last four digits (for display).

CREATE TABLE registrations (
    registration_id     uuid PRIMARY KEY,
    nik_hash            text        NOT NULL,
    nik_last4           char(4)     NOT NULL,
    pii                 text        NOT NULL,
    province_code       text        NOT NULL,
    regency_code        text        NOT NULL,
    employment_status   text        NOT NULL,
    receives_social_aid boolean     NOT NULL,
    channel             text        NOT NULL,
    status              text        NOT NULL,
    reason              text,
    submitted_at        timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registrations_nik_hash ON registrations (nik_hash);
CREATE INDEX registrations_status_province ON registrations (status, province_code);

-- The last word on "one NIK, one registration": the first registration id to claim a NIK hash
-- keeps it; any later one is rejected as a duplicate by the projector.
CREATE TABLE nik_claims (
    nik_hash        text        PRIMARY KEY,
    registration_id uuid        NOT NULL UNIQUE REFERENCES registrations (registration_id),
    claimed_at      timestamptz NOT NULL
);

-- Every status a registration passed through, idempotent by event id.
CREATE TABLE registration_history (
    event_id        uuid        PRIMARY KEY,
    registration_id uuid        NOT NULL REFERENCES registrations (registration_id),
    status          text        NOT NULL,
    reason          text,
    occurred_at     timestamptz NOT NULL
);
CREATE INDEX registration_history_registration ON registration_history (registration_id, occurred_at);
