-- Wave decisions to tell people about, by the channel their contact check used. Keyed by the
-- decision's event id: a replayed selection.decided message queues nothing new.
CREATE TABLE verification_notifications (
    event_id        uuid        PRIMARY KEY,
    registration_id uuid        NOT NULL,
    wave            integer     NOT NULL,
    outcome         text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'no_channel')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_at         timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verification_notifications_due ON verification_notifications (next_at)
    WHERE state = 'pending';
