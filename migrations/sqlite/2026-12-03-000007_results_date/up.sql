-- The day a wave's results are to be published, set on the fieldwork page
-- (or `civicpulse wave set --results-published`) and told to residents on
-- the thank-you page. NULL: not decided yet.
ALTER TABLE waves ADD COLUMN results_published_on TEXT;   -- YYYY-MM-DD
