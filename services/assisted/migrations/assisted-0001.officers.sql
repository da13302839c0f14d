-- Assisted registration (posko): posts, officers and their keys, the audit log, what each post
-- submitted, and bulk uploads. No personal data in any of these tables except the sealed payload
-- of a batch row that is still waiting to be submitted (cleared once the row is settled).

CREATE TABLE posko (
    id              uuid PRIMARY KEY,
    name            text        NOT NULL,
    province_code   text        NOT NULL,
    regency_code    text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE officers (
    id              uuid PRIMARY KEY,
    posko_id        uuid        NOT NULL REFERENCES posko (id),
    name            text        NOT NULL,
    -- sha256 of a random 32-byte token; the token itself is shown once, when it is issued.
    api_key_hash    text        NOT NULL UNIQUE,
    active          boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz
);
CREATE INDEX officers_posko ON officers (posko_id);

-- Who did what, when, to which registration id. Never a NIK, name, email or phone.
CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    officer_id      uuid        REFERENCES officers (id),
    posko_id        uuid        REFERENCES posko (id),
    action          text        NOT NULL,
    registration_id uuid,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_officer ON audit_log (officer_id, at);
CREATE INDEX audit_log_registration ON audit_log (registration_id) WHERE registration_id IS NOT NULL;

CREATE TABLE assisted_batches (
    id              uuid PRIMARY KEY,
    posko_id        uuid        NOT NULL REFERENCES posko (id),
    officer_id      uuid        NOT NULL REFERENCES officers (id),
    content_sha256  text        NOT NULL,
    total_rows      integer     NOT NULL,
    state           text        NOT NULL,  -- processing | done
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX assisted_batches_posko ON assisted_batches (posko_id, created_at);

-- One row per CSV record. outcome: pending | accepted | already_submitted | invalid | rejected
-- | failed. errors holds [{field, code}] only; messages are localized when the report is read.
CREATE TABLE assisted_batch_rows (
    batch_id        uuid        NOT NULL REFERENCES assisted_batches (id),
    row_number      integer     NOT NULL,
    outcome         text        NOT NULL,
    errors          jsonb       NOT NULL DEFAULT '[]',
    idempotency_key text,
    payload         text,       -- sealed (AES-GCM, bound to batch id and row) while pending
    registration_id uuid,
    PRIMARY KEY (batch_id, row_number)
);
CREATE INDEX assisted_batch_rows_pending ON assisted_batch_rows (batch_id) WHERE outcome = 'pending';

-- What a posko submitted; the list endpoint joins this to the registrations read model.
CREATE TABLE assisted_submissions (
    registration_id uuid PRIMARY KEY,
    posko_id        uuid        NOT NULL REFERENCES posko (id),
    officer_id      uuid        NOT NULL REFERENCES officers (id),
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    batch_id        uuid        REFERENCES assisted_batches (id)
);
CREATE INDEX assisted_submissions_posko ON assisted_submissions (posko_id, submitted_at DESC);
