-- One NIK, one registration (issue 14): the decider sends only accepted registrations here, so
-- at most one case per NIK is ever live. This index is the backstop; a rejected case gives the
-- NIK back (the person may register again), so only cases not rejected count.
CREATE UNIQUE INDEX verification_cases_one_live_per_nik ON verification_cases (nik_hash)
    WHERE outcome IS DISTINCT FROM 'rejected';
