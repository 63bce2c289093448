-- Designers work on a draft before it is published. A draft is a row of
-- survey_versions with the next version number and status 'draft'; only
-- published rows are served to residents and analysed. Every row stored
-- before this migration was published.
ALTER TABLE survey_versions ADD COLUMN status TEXT NOT NULL DEFAULT 'published'
    CHECK (status IN ('draft', 'published'));
ALTER TABLE survey_versions ADD COLUMN published_at TEXT;   -- RFC 3339, UTC; NULL for drafts and older rows
ALTER TABLE survey_versions ADD COLUMN opens_at TEXT;       -- YYYY-MM-DD, set when publishing
ALTER TABLE survey_versions ADD COLUMN closes_at TEXT;      -- YYYY-MM-DD, set when publishing

-- At most one draft per survey: importing again replaces it.
CREATE UNIQUE INDEX survey_versions_one_draft ON survey_versions (slug) WHERE status = 'draft';
