-- The decider (issue 14): the projector decides each registration once, from the log, and keeps
-- the verdict with the row. 'accepted' = the first live attempt of its NIK, 'duplicate' = any
-- later one. A stored verdict is never re-decided, so a replay or a re-sent attempt changes
-- nothing.
ALTER TABLE registrations ADD COLUMN decision text;
UPDATE registrations SET decision = CASE WHEN reason = 'duplicate' THEN 'duplicate' ELSE 'accepted' END;
ALTER TABLE registrations ALTER COLUMN decision SET NOT NULL;
ALTER TABLE registrations ADD CONSTRAINT registrations_decision
    CHECK (decision IN ('accepted', 'duplicate'));

-- Decisions (registrations.accepted) and NIK releases (into registrations.submitted) leave
-- through an outbox written in the decision's own transaction.
CREATE TABLE registration_outbox (
    id            bigserial PRIMARY KEY,
    topic         text        NOT NULL,
    event_type    text        NOT NULL,
    message_key   bytea,
    payload       bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX registration_outbox_pending ON registration_outbox (id) WHERE published_at IS NULL;
