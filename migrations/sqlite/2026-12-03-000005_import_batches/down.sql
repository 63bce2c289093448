-- Responses lose their import batch, rebuilt as in up.sql, backwards.
-- `_id` stays unique per wave only: two waves may share respondent numbers
-- by now, and making them unique again would have to drop rows.
CREATE TABLE responses_old (
    id INTEGER PRIMARY KEY,
    survey_version_id INTEGER NOT NULL REFERENCES survey_versions (id),
    survey_slug TEXT NOT NULL,
    wave INTEGER NOT NULL,
    lang TEXT NOT NULL CHECK (lang IN ('zh', 'en', 'ko')),
    submitted_at TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('web', 'invited', 'import')),
    form_token TEXT UNIQUE,
    external_id TEXT,
    weight DOUBLE NOT NULL DEFAULT 1.0,
    stratum TEXT,
    cluster TEXT,
    choice_codes BLOB NOT NULL,
    duration_seconds INTEGER,
    UNIQUE (survey_slug, wave, external_id)
);
INSERT INTO responses_old (id, survey_version_id, survey_slug, wave, lang, submitted_at, source, form_token,
                           external_id, weight, stratum, cluster, choice_codes, duration_seconds)
SELECT id, survey_version_id, survey_slug, wave, lang, submitted_at, source, form_token,
       external_id, weight, stratum, cluster, choice_codes, duration_seconds
FROM responses;
CREATE TABLE answers_old (
    response_id INTEGER NOT NULL REFERENCES responses_old (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (response_id, position)
) WITHOUT ROWID;
INSERT INTO answers_old SELECT response_id, position, question_id, value FROM answers;
CREATE TABLE response_flags_old (
    response_id INTEGER NOT NULL REFERENCES responses_old (id) ON DELETE CASCADE,
    flag TEXT NOT NULL CHECK (flag IN ('straightliner', 'burst')),
    PRIMARY KEY (response_id, flag)
) WITHOUT ROWID;
INSERT INTO response_flags_old SELECT response_id, flag FROM response_flags;
DROP TABLE answers;
DROP TABLE response_flags;
DROP TABLE responses;
ALTER TABLE responses_old RENAME TO responses;
ALTER TABLE answers_old RENAME TO answers;
ALTER TABLE response_flags_old RENAME TO response_flags;
CREATE INDEX responses_by_survey ON responses (survey_slug, wave, id);
CREATE INDEX responses_by_source ON responses (survey_slug, wave, source);
CREATE INDEX responses_web_bursts ON responses (survey_version_id, choice_codes, submitted_at) WHERE source = 'web';
DROP TABLE import_batches;
