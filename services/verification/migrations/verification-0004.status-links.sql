-- "I lost my status link" (issue 20). One row per request (the StatusLinkRequested event id):
-- a replayed record finds its row and does nothing again. A request whose NIK and contact do
-- not belong to one live case is kept as 'no_match', without a registration, so it too is
-- judged once; nothing here holds the contact itself. Matched requests are sent under the same
-- lease and retry rules as the wave notifications: 'pending' until 'sent', or 'failed' when
-- the provider refused the address or the tries ran out; 'limited' when the registration
-- already had its day's messages. Cases are found by the one-live-case-per-NIK index.
CREATE TABLE verification_status_links (
    event_id        uuid        PRIMARY KEY,
    registration_id uuid,
    method          text        CHECK (method IN ('email', 'sms')),
    state           text        NOT NULL
                    CHECK (state IN ('pending', 'sent', 'failed', 'no_match', 'limited')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_at         timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'no_match') = (registration_id IS NULL)),
    CHECK ((registration_id IS NULL) = (method IS NULL))
);
CREATE INDEX verification_status_links_due ON verification_status_links (next_at)
    WHERE state = 'pending';
-- A registration's messages of the last day (its cap).
CREATE INDEX verification_status_links_by_registration
    ON verification_status_links (registration_id, created_at)
    WHERE registration_id IS NOT NULL;
