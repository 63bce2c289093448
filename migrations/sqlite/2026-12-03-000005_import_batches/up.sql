-- Import batches: one import of one file into one wave (`civicpulse
-- import`), so that a corrected file can replace exactly the rows an earlier
-- one added, and a wrong one can be taken out, without touching the rest of
-- the wave.
CREATE TABLE import_batches (
    -- AUTOINCREMENT: an id is never handed out twice, so an id in the audit
    -- log names one batch for good, even after it was deleted.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    survey_slug TEXT NOT NULL,
    wave INTEGER NOT NULL,
    name TEXT NOT NULL,                -- --name, or the file's name without its extension
    file TEXT,                         -- the file as named on the command line; NULL for 'before-batches'
    rows INTEGER NOT NULL,             -- responses in the batch
    nested INTEGER NOT NULL DEFAULT 0 CHECK (nested IN (0, 1)),   -- --nest: clusters numbered within strata
    created_at TEXT NOT NULL,          -- RFC 3339, UTC
    created_by TEXT NOT NULL,
    UNIQUE (survey_slug, wave, name)
);
-- Imports made before batches existed: one batch per survey wave, so that
-- every imported response belongs to a batch and can be replaced.
INSERT INTO import_batches (survey_slug, wave, name, file, rows, nested, created_at, created_by)
SELECT survey_slug, wave, 'before-batches', NULL, COUNT(*), 0, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), '(migration)'
FROM responses
WHERE source = 'import'
GROUP BY survey_slug, wave
ORDER BY survey_slug, wave;

-- Responses are rebuilt with the batch of an imported response, and with
-- `_id` unique within a wave rather than across waves (next year's file may
-- number its respondents from 1 again): SQLite cannot change a table's
-- UNIQUE constraint in place. The tables that reference responses are
-- rebuilt with them, so that dropping the old table never cascades into
-- them; all of it in one transaction.
CREATE TABLE responses_new (
    id INTEGER PRIMARY KEY,            -- invited responses get a random id: no insertion order to read
    survey_version_id INTEGER NOT NULL REFERENCES survey_versions (id),
    survey_slug TEXT NOT NULL,
    wave INTEGER NOT NULL,
    lang TEXT NOT NULL CHECK (lang IN ('zh', 'en', 'ko')),
    submitted_at TEXT NOT NULL,        -- RFC 3339, UTC; invited responses: the day only (T00:00:00Z)
    source TEXT NOT NULL CHECK (source IN ('web', 'invited', 'import')),
    form_token TEXT UNIQUE,            -- web only: one response per rendered form
    external_id TEXT,                  -- import: the file's _id
    weight DOUBLE NOT NULL DEFAULT 1.0,
    stratum TEXT,                      -- import: _stratum; invited: the invitation's stratum
    cluster TEXT,
    choice_codes BLOB NOT NULL,
    duration_seconds INTEGER,          -- web and invited: from the form's issue to its submission
    import_batch_id INTEGER REFERENCES import_batches (id),   -- import only
    UNIQUE (survey_slug, wave, external_id)
);
INSERT INTO responses_new (id, survey_version_id, survey_slug, wave, lang, submitted_at, source, form_token,
                           external_id, weight, stratum, cluster, choice_codes, duration_seconds, import_batch_id)
SELECT r.id, r.survey_version_id, r.survey_slug, r.wave, r.lang, r.submitted_at, r.source, r.form_token,
       r.external_id, r.weight, r.stratum, r.cluster, r.choice_codes, r.duration_seconds,
       (SELECT b.id FROM import_batches b
        WHERE r.source = 'import' AND b.survey_slug = r.survey_slug AND b.wave = r.wave
          AND b.name = 'before-batches')
FROM responses r;

CREATE TABLE answers_new (
    response_id INTEGER NOT NULL REFERENCES responses_new (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (response_id, position)
) WITHOUT ROWID;
INSERT INTO answers_new SELECT response_id, position, question_id, value FROM answers;

CREATE TABLE response_flags_new (
    response_id INTEGER NOT NULL REFERENCES responses_new (id) ON DELETE CASCADE,
    flag TEXT NOT NULL CHECK (flag IN ('straightliner', 'burst')),
    PRIMARY KEY (response_id, flag)
) WITHOUT ROWID;
INSERT INTO response_flags_new SELECT response_id, flag FROM response_flags;

DROP TABLE answers;
DROP TABLE response_flags;
DROP TABLE responses;
ALTER TABLE responses_new RENAME TO responses;   -- the new tables' references follow the rename
ALTER TABLE answers_new RENAME TO answers;
ALTER TABLE response_flags_new RENAME TO response_flags;
CREATE INDEX responses_by_survey ON responses (survey_slug, wave, id);
-- How many responses of a wave came in each way, without reading them.
CREATE INDEX responses_by_source ON responses (survey_slug, wave, source);
-- Identical open-link responses by time, to see bursts of them.
CREATE INDEX responses_web_bursts ON responses (survey_version_id, choice_codes, submitted_at) WHERE source = 'web';
-- A batch's responses, to replace or delete them (and for the foreign key
-- check when a batch goes); web and invited responses are not indexed.
CREATE INDEX responses_by_import_batch ON responses (import_batch_id) WHERE import_batch_id IS NOT NULL;
