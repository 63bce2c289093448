-- Accounts an admin can manage, and API tokens with a scope and an end.
--
-- A disabled account keeps its row (the audit log names it) but can neither
-- sign in nor keep a session: disabling ends its sessions, and a session is
-- honoured only for an enabled account.
ALTER TABLE users ADD COLUMN disabled_at TEXT;

-- What a token may read: a comma-separated list of `statistics` (indices,
-- comparisons, fieldwork figures) and `export` (respondent-level data).
-- Tokens made before scopes existed read statistics, as they always did.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'statistics';
-- The last day it is valid (YYYY-MM-DD, the city's calendar), if any.
ALTER TABLE api_tokens ADD COLUMN expires_on TEXT;
-- The day it was last accepted: a date, written at most once a day, so
-- that an API client does not turn every read into a write.
ALTER TABLE api_tokens ADD COLUMN last_used_on TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE api_tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '(command line)';
