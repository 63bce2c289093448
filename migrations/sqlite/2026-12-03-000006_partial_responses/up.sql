-- Partial responses: the answers of a resident who is part way through the
-- section pages, saved after every page so that a reload, the Back button or
-- a visit days later finds them (docs/privacy.md, "Partial responses").
-- A separate table on purpose: no index, export or analysis query reads it,
-- so a partial response is never counted as a response.
CREATE TABLE partial_responses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    resume_key TEXT NOT NULL UNIQUE,   -- keyed hash of the resume code; the code itself is never stored
    survey_slug TEXT NOT NULL,
    survey_version_id INTEGER NOT NULL REFERENCES survey_versions (id),
    version INTEGER NOT NULL,          -- the version's number, as the registry knows it
    wave INTEGER NOT NULL,
    lang TEXT NOT NULL CHECK (lang IN ('zh', 'en', 'ko')),
    answers TEXT NOT NULL,             -- JSON {"question id": ["value", ...]}, as typed; '{}' once completed
    last_page INTEGER NOT NULL,        -- the furthest section page reached (0-based); the number of sections: the review page
    started_at TEXT NOT NULL,          -- RFC 3339, UTC
    updated_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,          -- purged after this (--partial-days after the last save)
    completed_at TEXT,                 -- set when the final submission stored the real response
    invitation_lookup TEXT             -- invitation waves: the code's lookup key, so the code resumes it; NULL once completed
);
CREATE INDEX partial_responses_by_expiry ON partial_responses (expires_at);
CREATE INDEX partial_responses_by_wave ON partial_responses (survey_slug, wave);
CREATE UNIQUE INDEX partial_responses_by_invitation ON partial_responses (invitation_lookup)
    WHERE invitation_lookup IS NOT NULL;
