-- Draw v2 (issue 19): the close announces which public random value the draw will mix in (a named
-- source, a reference fixed only after the close, and when that reference is due); the draw
-- records the value. NULL in waves closed before v2, which stay v1 draws.
ALTER TABLE selection_waves
    ADD COLUMN beacon_source    text,
    ADD COLUMN beacon_reference text,
    ADD COLUMN beacon_due_at    timestamptz,
    ADD COLUMN beacon_value     text,
    -- Announced whole or not at all, and no value without an announced reference.
    ADD CONSTRAINT selection_waves_beacon_announced CHECK (
        (beacon_source IS NULL) = (beacon_reference IS NULL)
        AND (beacon_reference IS NULL) = (beacon_due_at IS NULL)
        AND (beacon_value IS NULL OR beacon_reference IS NOT NULL)
    );
