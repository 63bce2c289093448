// The tables of `migrations/`, for diesel's query builder.

diesel::table! {
    survey_versions (id) {
        id -> BigInt,
        slug -> Text,
        version -> Integer,
        definition -> Text,
        created_at -> Text,
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

diesel::joinable!(answers -> responses (response_id));
diesel::joinable!(responses -> survey_versions (survey_version_id));
diesel::allow_tables_to_appear_in_same_query!(survey_versions, responses, answers, api_tokens, population_margins);
