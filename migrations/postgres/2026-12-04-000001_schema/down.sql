DROP VIEW data_generations;
DROP TABLE data_generation_shards, partial_responses, settings, invitations, invitation_batches, frame_strata, waves,
    audit_log, sessions, users, population_margins, api_tokens, response_flags, answers, responses,
    import_batches, survey_versions;
DROP SEQUENCE response_ids;
DROP FUNCTION data_generation_rows_added, data_generation_rows_removed, data_generation_rows_changed,
    data_generation_flags_added, data_generation_flags_removed, data_generation_flags_changed,
    data_generation_stratum_question_changed, data_generation_versions_changed, data_generation_versions_added,
    data_generation_versions_removed;
