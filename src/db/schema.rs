// The tables of `migrations/`, for diesel's query builder.

diesel::table! {
    survey_versions (id) {
        id -> BigInt,
        slug -> Text,
        version -> Integer,
        definition -> Text,
        created_at -> Text,
        status -> Text,
        published_at -> Nullable<Text>,
        opens_at -> Nullable<Text>,
        closes_at -> Nullable<Text>,
    }
}

diesel::table! {
    responses (id) {
        id -> BigInt,
        survey_version_id -> BigInt,
        survey_slug -> Text,
        wave -> Integer,
        lang -> Text,
        submitted_at -> Text,
        source -> Text,
        form_token -> Nullable<Text>,
        external_id -> Nullable<Text>,
        weight -> Double,
        stratum -> Nullable<Text>,
        cluster -> Nullable<Text>,
        choice_codes -> Binary,
        duration_seconds -> Nullable<Integer>,
        import_batch_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    import_batches (id) {
        id -> BigInt,
        survey_slug -> Text,
        wave -> Integer,
        name -> Text,
        file -> Nullable<Text>,
        rows -> BigInt,
        nested -> Bool,
        created_at -> Text,
        created_by -> Text,
    }
}

diesel::table! {
    answers (response_id, position) {
        response_id -> BigInt,
        position -> Integer,
        question_id -> Text,
        value -> Text,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        name -> Text,
        token_hash -> Text,
        created_at -> Text,
        scopes -> Text,
        expires_on -> Nullable<Text>,
        last_used_on -> Nullable<Text>,
        revoked_at -> Nullable<Text>,
        created_by -> Text,
    }
}

diesel::table! {
    population_margins (survey_slug, wave, position) {
        survey_slug -> Text,
        wave -> Integer,
        position -> Integer,
        question_id -> Text,
        value -> Text,
        total -> Double,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        role -> Text,
        password_hash -> Text,
        created_at -> Text,
        failed_sign_ins -> Integer,
        locked_until -> Nullable<Text>,
        disabled_at -> Nullable<Text>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> Text,
        expires_at -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Text,
        username -> Text,
        action -> Text,
        detail -> Text,
    }
}

diesel::table! {
    waves (survey_slug, wave) {
        survey_slug -> Text,
        wave -> Integer,
        access -> Text,
        stratum_question -> Text,
        opens_on -> Nullable<Text>,
        closes_on -> Nullable<Text>,
        helpline -> Text,
        results_published_on -> Nullable<Text>,
    }
}

diesel::table! {
    frame_strata (survey_slug, wave, stratum) {
        survey_slug -> Text,
        wave -> Integer,
        stratum -> Text,
        population -> Double,
    }
}

diesel::table! {
    invitation_batches (id) {
        id -> BigInt,
        survey_slug -> Text,
        wave -> Integer,
        stratum -> Text,
        size -> Integer,
        created_at -> Text,
        created_by -> Text,
    }
}

diesel::table! {
    invitations (lookup) {
        lookup -> Text,
        batch_id -> BigInt,
        position -> Integer,
        nonce -> Text,
        status -> Text,
        used_form -> Nullable<Text>,
    }
}

diesel::table! {
    response_flags (response_id, flag) {
        response_id -> BigInt,
        flag -> Text,
    }
}

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    partial_responses (id) {
        id -> BigInt,
        resume_key -> Text,
        survey_slug -> Text,
        survey_version_id -> BigInt,
        version -> Integer,
        wave -> Integer,
        lang -> Text,
        answers -> Text,
        last_page -> Integer,
        started_at -> Text,
        updated_at -> Text,
        expires_at -> Text,
        completed_at -> Nullable<Text>,
        invitation_lookup -> Nullable<Text>,
    }
}

diesel::joinable!(answers -> responses (response_id));
diesel::joinable!(response_flags -> responses (response_id));
diesel::joinable!(invitations -> invitation_batches (batch_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(responses -> survey_versions (survey_version_id));
diesel::joinable!(responses -> import_batches (import_batch_id));
diesel::allow_tables_to_appear_in_same_query!(
    survey_versions,
    responses,
    import_batches,
    answers,
    api_tokens,
    population_margins,
    users,
    sessions,
    audit_log,
    waves,
    frame_strata,
    invitation_batches,
    invitations,
    response_flags,
    settings,
    partial_responses
);

diesel::table! {
    data_generations (survey_slug, wave) {
        survey_slug -> Text,
        wave -> Integer,
        generation -> BigInt,
    }
}
