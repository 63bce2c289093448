ALTER TABLE api_tokens DROP COLUMN created_by;
ALTER TABLE api_tokens DROP COLUMN revoked_at;
ALTER TABLE api_tokens DROP COLUMN last_used_on;
ALTER TABLE api_tokens DROP COLUMN expires_on;
ALTER TABLE api_tokens DROP COLUMN scopes;
ALTER TABLE users DROP COLUMN disabled_at;
