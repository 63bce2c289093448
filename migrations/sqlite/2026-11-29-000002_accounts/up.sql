-- Staff accounts. Residents never log in; only the people who run the
-- survey do, each with one role.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,     -- 3-32 of a-z 0-9 . _ - (checked by the program)
    role TEXT NOT NULL CHECK (role IN ('admin', 'designer', 'statistician')),
    password_hash TEXT NOT NULL,       -- Argon2id PHC string, salt included
    created_at TEXT NOT NULL
);

-- Signed-in browsers. Kept here rather than in process memory so any number
-- of app instances can serve the same staff member. The cookie carries a
-- random 256-bit token; only its SHA-256 hash is stored, so a copy of the
-- database does not let anyone sign in.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,               -- hex SHA-256 of the cookie's token
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,          -- repeated by every form of the session
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL           -- RFC 3339, UTC: compares as text
) WITHOUT ROWID;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Who did what, when: sign-ins, sign-outs and every change by staff.
-- `username` is text, not a reference, so entries outlive their account.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
