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

diesel::joinable!(answers -> responses (response_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(responses -> survey_versions (survey_version_id));
diesel::allow_tables_to_appear_in_same_query!(
    survey_versions,
    responses,
    answers,
    api_tokens,
    population_margins,
    users,
    sessions,
    audit_log
);
