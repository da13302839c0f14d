-- Faster close (issue 19, item 3): freezing 1.5 M people took about 10 s, most of it joining the
-- pool with the two official lists on the 64-character NIK hash and writing 1.5 M frozen rows
-- with their primary key, then reading them back to hash them. Measured in the README
-- ("From the stored pool to stored results").

-- Each person's tier, kept as the lists say it now: set when the person joins the pool (from the
-- lists) and when a list is imported (for the people on it), in the same transaction as the
-- import, so a close reads it instead of joining. Mirrors service.tier_for and
-- repository._TIER_OF.
ALTER TABLE selection_pool ADD COLUMN tier smallint;
UPDATE selection_pool p
   SET tier = CASE
       WHEN EXISTS (SELECT FROM selection_labour_list l WHERE l.nik_hash = p.nik_hash) THEN 1
       WHEN NOT p.receives_social_aid
            AND NOT EXISTS (SELECT FROM selection_social_aid_list s WHERE s.nik_hash = p.nik_hash)
            THEN 2
       ELSE 3 END;
ALTER TABLE selection_pool
    ALTER COLUMN tier SET NOT NULL,
    ADD CONSTRAINT selection_pool_tier CHECK (tier IN (1, 2, 3));

-- A wave's frozen list, stored as the canonical list itself: the bytes of the published
-- eligible.csv, whose SHA-256 the close publishes. One value instead of 1.5 M rows: written and
-- read in well under a second, and hashed as it is written, with no read back. Not compressed
-- (random ids barely compress, and compressing 60 MB costs seconds). A value holds at most 1 GB:
-- about 25 M people.
CREATE TABLE selection_wave_lists (
    wave     integer PRIMARY KEY,
    eligible bytea   NOT NULL
);
ALTER TABLE selection_wave_lists ALTER COLUMN eligible SET STORAGE EXTERNAL;

-- Every closed wave's list moves over (an empty list is the empty string), and must still hash to
-- what was published at its close.
INSERT INTO selection_wave_lists (wave, eligible)
SELECT w.number,
       coalesce((SELECT convert_to(string_agg(e.registration_id::text || ',' || e.province_code
                                              || ',' || e.tier, E'\n' ORDER BY e.registration_id),
                                   'UTF8')
                   FROM selection_wave_eligible e
                  WHERE e.wave = w.number), '')
  FROM selection_waves w
 WHERE w.state <> 'open';

DO $$
DECLARE
    wrong integer;
BEGIN
    SELECT min(w.number) INTO wrong
      FROM selection_waves w JOIN selection_wave_lists l ON l.wave = w.number
     WHERE encode(sha256(l.eligible), 'hex') IS DISTINCT FROM w.eligible_sha256;
    IF wrong IS NOT NULL THEN
        RAISE EXCEPTION 'wave %: the frozen list does not hash to its published eligible_sha256',
            wrong;
    END IF;
END
$$;

DROP TABLE selection_wave_eligible;
