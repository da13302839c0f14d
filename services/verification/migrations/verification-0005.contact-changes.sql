-- Change of contact before it is confirmed (issue 20). contact_version counts a case's
-- changes: 0 is the contact given at sign-up. A changed contact's email link carries its
-- version, so a link to a replaced address confirms nothing, and a message sent to a replaced
-- contact is not stored as the new one's.
ALTER TABLE verification_cases ADD COLUMN contact_version integer NOT NULL DEFAULT 0;

-- One row per change request (the ContactChangeRequested event id): a replayed record finds
-- its row and changes nothing again. Nothing here holds the contact itself.
CREATE TABLE verification_contact_changes (
    event_id        uuid        PRIMARY KEY,
    registration_id uuid        NOT NULL,
    outcome         text        NOT NULL
                    CHECK (outcome IN ('changed', 'not_waiting', 'too_many', 'no_case',
                                       'unreadable')),
    created_at      timestamptz NOT NULL DEFAULT now()
);
