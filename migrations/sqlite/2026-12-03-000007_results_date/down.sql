ALTER TABLE waves DROP COLUMN results_published_on;
