-- Verification service state. One case per registration; every side effect is driven from
-- here (not from the Kafka message), so a worker that dies mid-way leaves work that another
-- worker picks up after the lease, and nothing is lost.

CREATE TABLE verification_cases (
    registration_id     uuid PRIMARY KEY,
    nik_hash            text        NOT NULL,
    pii                 text        NOT NULL,  -- sealed; needed to call the registry and to send
    province_code       text        NOT NULL,
    regency_code        text        NOT NULL,
    employment_status   text        NOT NULL,
    receives_social_aid boolean     NOT NULL,
    channel             text        NOT NULL,

    contact_method      text        NOT NULL,  -- email | sms
    contact_state       text        NOT NULL,  -- unsent | sent | confirmed | expired
    contact_next_at     timestamptz NOT NULL DEFAULT now(),
    contact_sends       integer     NOT NULL DEFAULT 0,
    contact_expires_at  timestamptz NOT NULL,
    contact_last_error  text,

    nik_state           text        NOT NULL DEFAULT 'pending',  -- pending | verified | not_found | mismatch
    nik_attempts        integer     NOT NULL DEFAULT 0,
    nik_next_at         timestamptz NOT NULL DEFAULT now(),
    nik_last_error      text,

    outcome             text,       -- verified | rejected
    outcome_reason      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verification_nik_due ON verification_cases (nik_next_at) WHERE nik_state = 'pending' AND outcome IS NULL;
CREATE INDEX verification_contact_due ON verification_cases (contact_next_at) WHERE contact_state = 'unsent' AND outcome IS NULL;
CREATE INDEX verification_contact_expiry ON verification_cases (contact_expires_at) WHERE contact_state IN ('unsent', 'sent') AND outcome IS NULL;

-- Transactional outbox: events are written with the state change that causes them and
-- published afterwards, so "state stored" and "event sent" can never disagree for long.
CREATE TABLE verification_outbox (
    id            bigserial PRIMARY KEY,
    topic         text        NOT NULL,
    event_type    text        NOT NULL,
    message_key   bytea,
    payload       bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX verification_outbox_pending ON verification_outbox (id) WHERE published_at IS NULL;
