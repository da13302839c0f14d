-- Faster close (issue 19, item 3): handing the seats of revoked people back to the next wave read
-- the whole pool at every close (0.2-0.4 s of database time for 1.5 M people), nearly always to
-- find nobody. This index holds only the revoked people whose seat is not handed on yet.
--
-- Its predicate names revoked_at, not state: a column in an index or in an index's predicate makes
-- every update of that column a non-HOT one, and marking the winners of a draw changes state
-- (migration selection-0004 dropped an index for that reason). revoked_at is set together with
-- state = 'revoked' and never otherwise; the constraint makes that a rule, so that the close can
-- ask for both and be served by the index.
ALTER TABLE selection_pool ADD CONSTRAINT selection_pool_revoked_when_revoked_at
    CHECK ((state = 'revoked') = (revoked_at IS NOT NULL));
CREATE INDEX selection_pool_seat_to_return ON selection_pool (province_code)
    WHERE revoked_at IS NOT NULL AND seat_returned_to IS NULL;
