-- Every published version of every survey, immutable once stored: responses
-- point to the exact questionnaire they answered.
CREATE TABLE survey_versions (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,          -- the TOML file, as validated
    created_at TEXT NOT NULL,
    UNIQUE (slug, version)
);

-- One row per respondent. No IP address or other network identifier is kept.
CREATE TABLE responses (
    id INTEGER PRIMARY KEY,
    survey_version_id INTEGER NOT NULL REFERENCES survey_versions (id),
    survey_slug TEXT NOT NULL,         -- denormalised for per-survey scans
    wave INTEGER NOT NULL,             -- the survey year this response counts in
    lang TEXT NOT NULL CHECK (lang IN ('zh', 'en', 'ko')),
    submitted_at TEXT NOT NULL,        -- RFC 3339, UTC
    source TEXT NOT NULL CHECK (source IN ('web', 'import')),
    form_token TEXT UNIQUE,            -- web: one response per rendered form
    external_id TEXT,                  -- import: the file's _id
    weight DOUBLE NOT NULL DEFAULT 1.0,
    stratum TEXT,
    cluster TEXT,
    -- The choice answers again, one byte per question of the version
    -- (option number, 0 = none), written in the same transaction as the
    -- long rows: the index engine reads a million respondents from this
    -- column instead of tens of millions of answer rows.
    choice_codes BLOB NOT NULL,
    UNIQUE (survey_slug, external_id)
);
CREATE INDEX responses_by_survey ON responses (survey_slug, wave, id);

-- Long format: one row per answer (per chosen option for multi-choice).
CREATE TABLE answers (
    response_id INTEGER NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,         -- order within the response
    question_id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (response_id, position)
) WITHOUT ROWID;

-- Bearer tokens for the HTTP API. Only a SHA-256 hash is kept: a token is
-- 256 random bits, so a slow password hash would add nothing.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- Population totals for raking, per survey wave (`civicpulse margins set`).
CREATE TABLE population_margins (
    survey_slug TEXT NOT NULL,
    wave INTEGER NOT NULL,
    position INTEGER NOT NULL,         -- margins are raked in file order
    question_id TEXT NOT NULL,
    value TEXT NOT NULL,
    total DOUBLE NOT NULL,
    PRIMARY KEY (survey_slug, wave, position)
);
