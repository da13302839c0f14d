-- A contact_changed step (issue 20) carries the new email address or number, sealed as the
-- sign-up's personal data is: the status answer shows the contact being confirmed, masked,
-- from the sign-up's contact and the changes after it. Rebuilt from the log like every row.
ALTER TABLE registration_history ADD COLUMN contact_pii text;
