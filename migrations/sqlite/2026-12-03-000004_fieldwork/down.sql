ALTER TABLE users DROP COLUMN locked_until;
ALTER TABLE users DROP COLUMN failed_sign_ins;
DROP TABLE settings;
DROP TABLE response_flags;
DROP TABLE invitations;
DROP TABLE invitation_batches;
DROP TABLE frame_strata;
DROP TABLE waves;
DROP INDEX responses_web_bursts;
