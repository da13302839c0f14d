-- Selection decisions name a wave ("selected in wave 3"); the read model shows it.
ALTER TABLE registration_history ADD COLUMN wave integer;
ALTER TABLE registrations ADD COLUMN wave integer;
