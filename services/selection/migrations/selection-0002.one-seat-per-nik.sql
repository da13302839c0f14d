-- One NIK, one place in the pool (issue 14): the backstop behind the decider and verification.
DROP INDEX selection_pool_nik_hash;
CREATE UNIQUE INDEX selection_pool_nik_hash ON selection_pool (nik_hash);
