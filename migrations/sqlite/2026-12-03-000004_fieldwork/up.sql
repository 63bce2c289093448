-- Fieldwork: waves open to anyone or by invitation, sampling frames,
-- invitation codes, completion times, data-quality flags, and sign-in
-- lockout. See docs/privacy.md for why invitations and responses are
-- stored the way they are.

-- One import of one file into one wave (`civicpulse import`), so that a
-- corrected file can replace exactly the rows an earlier one added, and a
-- wrong one can be taken out, without touching the rest of the wave.
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

-- Responses are rebuilt so `source` admits 'invited' (SQLite cannot change
-- a CHECK in place), with the batch of an imported response, and with `_id`
-- unique within a wave rather than across waves (next year's file may number
-- its respondents from 1 again). `answers` is rebuilt with it, so that
-- dropping the old table never cascades into the answers; all of it in one
-- transaction.
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
                           external_id, weight, stratum, cluster, choice_codes, import_batch_id)
SELECT r.id, r.survey_version_id, r.survey_slug, r.wave, r.lang, r.submitted_at, r.source, r.form_token,
       r.external_id, r.weight, r.stratum, r.cluster, r.choice_codes,
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

DROP TABLE answers;
DROP TABLE responses;
ALTER TABLE responses_new RENAME TO responses;   -- answers_new's reference follows the rename
ALTER TABLE answers_new RENAME TO answers;
CREATE INDEX responses_by_survey ON responses (survey_slug, wave, id);
-- How many responses of a wave came in each way, without reading them.
CREATE INDEX responses_by_source ON responses (survey_slug, wave, source);
-- Identical open-link responses by time, to see bursts of them.
CREATE INDEX responses_web_bursts ON responses (survey_version_id, choice_codes, submitted_at) WHERE source = 'web';
-- A batch's responses, to replace or delete them (and for the foreign key
-- check when a batch goes); web and invited responses are not indexed.
CREATE INDEX responses_by_import_batch ON responses (import_batch_id) WHERE import_batch_id IS NOT NULL;

-- How a wave is fielded (`civicpulse wave set`). The newest wave of a
-- survey is the one residents answer; a survey without any keeps the old
-- behaviour (open to anyone, the calendar year's wave).
CREATE TABLE waves (
    survey_slug TEXT NOT NULL,
    wave INTEGER NOT NULL,
    access TEXT NOT NULL CHECK (access IN ('open', 'invitation', 'both')),
    stratum_question TEXT NOT NULL,
    opens_on TEXT,                     -- YYYY-MM-DD
    closes_on TEXT,                    -- YYYY-MM-DD
    helpline TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (survey_slug, wave)
);

-- The sampling frame of a wave: population N_h per stratum.
CREATE TABLE frame_strata (
    survey_slug TEXT NOT NULL,
    wave INTEGER NOT NULL,
    stratum TEXT NOT NULL,
    population DOUBLE NOT NULL CHECK (population >= 1),
    PRIMARY KEY (survey_slug, wave, stratum),
    FOREIGN KEY (survey_slug, wave) REFERENCES waves (survey_slug, wave)
);

-- A batch of invitations for one stratum, as printed together.
CREATE TABLE invitation_batches (
    id INTEGER PRIMARY KEY,
    survey_slug TEXT NOT NULL,
    wave INTEGER NOT NULL,
    stratum TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    FOREIGN KEY (survey_slug, wave) REFERENCES waves (survey_slug, wave)
);

-- One row per invitation. The code itself is not stored: `nonce` gives it
-- back only together with the server key (kept outside the database), and
-- `lookup` finds a typed code. Nothing here records when a code was used,
-- and no response refers to an invitation.
CREATE TABLE invitations (
    lookup TEXT PRIMARY KEY,           -- keyed hash of the code
    batch_id INTEGER NOT NULL REFERENCES invitation_batches (id),
    position INTEGER NOT NULL,         -- order in its batch, as printed
    nonce TEXT NOT NULL,
    -- 'issued' or 'used'; save-and-resume may add a state for a started form.
    status TEXT NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'used')),
    used_form TEXT,                    -- keyed hash of the form that used it: a double tap is thanked, not refused
    UNIQUE (batch_id, position)
) WITHOUT ROWID;

-- Data-quality flags stored with a response (speeders are derived from
-- duration_seconds whenever figures are computed).
CREATE TABLE response_flags (
    response_id INTEGER NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
    flag TEXT NOT NULL CHECK (flag IN ('straightliner', 'burst')),
    PRIMARY KEY (response_id, flag)
) WITHOUT ROWID;

-- Small named values the server keeps, e.g. the fingerprint of its key file.
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Sign-in lockout per account, with exponential backoff.
ALTER TABLE users ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until TEXT;    -- RFC 3339, UTC
