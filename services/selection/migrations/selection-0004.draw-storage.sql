-- Faster stored draw (issue 19): 1.5 M eligible rows from the stored pool to stored results in
-- seconds, not half a minute. Measured on a scratch database of 1.5 M people (README, "From the
-- stored pool to stored results").

-- The per-row foreign key of the frozen list fired one RI check per row: 1.5 M checks, about 6 s
-- of a close. The close writes the list in the transaction that holds the wave's row FOR UPDATE
-- and has just checked its state, so a row for a wave that does not exist cannot be written.
ALTER TABLE selection_wave_eligible DROP CONSTRAINT selection_wave_eligible_wave_fkey;

-- Results: only the selected are stored, as rows. Everyone else on the frozen list is
-- waitlisted, and a rank is HMAC(draw key, registration id), recomputable from the seed and
-- beacon value stored on the wave (and published in result.csv). 1.5 M result rows with a
-- 64-character rank each cost 8-13 s to store; 164,000 winners cost well under one.
CREATE TABLE selection_wave_selected (
    wave            integer  NOT NULL,
    registration_id uuid     NOT NULL,
    province_code   text     NOT NULL,
    tier            smallint NOT NULL CHECK (tier IN (1, 2, 3)),
    via             text     NOT NULL CHECK (via IN ('province', 'remainder')),
    PRIMARY KEY (wave, registration_id)
);
INSERT INTO selection_wave_selected (wave, registration_id, province_code, tier, via)
SELECT wave, registration_id, province_code, tier, via
  FROM selection_wave_results
 WHERE outcome = 'selected';
DROP TABLE selection_wave_results;

-- Marking the winners in the pool: `state` in the predicate of this partial index made every
-- update non-HOT (a new entry in each index per winner; 8.8 s and 570 MB of WAL for 164,000
-- winners after a checkpoint). No query uses it: the close reads nearly the whole pool, so it
-- scans. With the index gone and room left on each page, the updates are HOT (1.7 s, 280 MB).
DROP INDEX selection_pool_eligible;
ALTER TABLE selection_pool SET (fillfactor = 85);
