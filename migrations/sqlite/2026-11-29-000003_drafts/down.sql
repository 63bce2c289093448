-- Drafts were never answered (responses point to published versions only),
-- so they can go; the published versions stay.
DROP INDEX survey_versions_one_draft;
DELETE FROM survey_versions WHERE status = 'draft';
ALTER TABLE survey_versions DROP COLUMN closes_at;
ALTER TABLE survey_versions DROP COLUMN opens_at;
ALTER TABLE survey_versions DROP COLUMN published_at;
ALTER TABLE survey_versions DROP COLUMN status;
