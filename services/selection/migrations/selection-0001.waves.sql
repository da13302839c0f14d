-- Selection: the eligible pool, the official lists, waves and their published draws.
-- No personal data: people are known by registration id and the NIK's keyed hash only.

-- Everyone who passed verification. `state` moves eligible -> selected -> revoked, never back:
-- a person is selected at most once, and a revoked person cannot be selected again.
CREATE TABLE selection_pool (
    registration_id     uuid        PRIMARY KEY,
    nik_hash            text        NOT NULL,
    province_code       text        NOT NULL,
    employment_status   text        NOT NULL,
    receives_social_aid boolean     NOT NULL,
    channel             text        NOT NULL,
    verified_at         timestamptz NOT NULL,
    state               text        NOT NULL DEFAULT 'eligible'
                        CHECK (state IN ('eligible', 'selected', 'revoked')),
    selected_wave       integer,
    confirmed_at        timestamptz,
    revoked_at          timestamptz,
    -- The wave whose quota received this revoked person's seat (NULL: not yet handed on).
    seat_returned_to    integer
);
CREATE INDEX selection_pool_eligible ON selection_pool (verified_at) WHERE state = 'eligible';
CREATE INDEX selection_pool_nik_hash ON selection_pool (nik_hash);

-- Labour offices' list of laid-off and furloughed workers (tier 1), and the social-aid
-- recipients list (those on it are tier 3). Keyed by the NIK's keyed hash: re-importing the same
-- file changes nothing.
CREATE TABLE selection_labour_list (
    nik_hash    text        PRIMARY KEY,
    status      text        NOT NULL CHECK (status IN ('laid_off', 'furloughed')),
    imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE selection_social_aid_list (
    nik_hash    text        PRIMARY KEY,
    imported_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE selection_waves (
    number           integer     PRIMARY KEY CHECK (number > 0),
    opens_at         timestamptz NOT NULL,
    closes_at        timestamptz NOT NULL,
    -- Seats as created; at close, seats of people revoked since are added (returned_seats).
    base_quotas      jsonb       NOT NULL,
    base_total       integer     NOT NULL CHECK (base_total >= 0),
    returned_seats   jsonb       NOT NULL DEFAULT '{}',
    state            text        NOT NULL DEFAULT 'open'
                     CHECK (state IN ('open', 'closed', 'drawn', 'announced')),
    cutoff_at        timestamptz,
    seed_commitment  text,
    eligible_sha256  text,
    eligible_count   integer,
    seed             text,
    selected         integer,
    waitlisted       integer,
    algorithm_version text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz,
    drawn_at         timestamptz,
    announced_at     timestamptz,
    CHECK (closes_at > opens_at)
);

-- The canonical eligible list, frozen at close: what the published sha256 covers.
CREATE TABLE selection_wave_eligible (
    wave            integer NOT NULL REFERENCES selection_waves (number),
    registration_id uuid    NOT NULL,
    province_code   text    NOT NULL,
    tier            smallint NOT NULL CHECK (tier IN (1, 2, 3)),
    PRIMARY KEY (wave, registration_id)
);

CREATE TABLE selection_wave_results (
    wave            integer NOT NULL REFERENCES selection_waves (number),
    registration_id uuid    NOT NULL,
    province_code   text    NOT NULL,
    tier            smallint NOT NULL,
    rank            text    NOT NULL,
    outcome         text    NOT NULL CHECK (outcome IN ('selected', 'waitlisted')),
    via             text,
    PRIMARY KEY (wave, registration_id)
);

-- Transactional outbox (see gelombang.outbox): decisions are published after they are stored.
CREATE TABLE selection_outbox (
    id            bigserial PRIMARY KEY,
    topic         text        NOT NULL,
    event_type    text        NOT NULL,
    message_key   bytea,
    payload       bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX selection_outbox_pending ON selection_outbox (id) WHERE published_at IS NULL;
