-- Status events from other services can reach the projector before the submission itself
-- (different topics, different lags). History rows are therefore stored as they come, and a
-- registration's current status is recomputed from its history, so arrival order never matters.
ALTER TABLE registration_history DROP CONSTRAINT registration_history_registration_id_fkey;
