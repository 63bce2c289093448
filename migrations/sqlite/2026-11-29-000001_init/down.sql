DROP TABLE api_tokens;
DROP TABLE answers;
DROP TABLE responses;
DROP TABLE survey_versions;
