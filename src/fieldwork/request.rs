//! A request for a batch of invitation codes, as the fieldwork page and
//! `civicpulse invitations create` both make it, with its rules stated on
//! the type (`validator`); whether the stratum is one of the wave's is
//! checked against the survey after these.

use validator::Validate;

/// The most codes one batch may hold (`db::MAX_BATCH`).
const MOST_INVITATIONS: u64 = crate::db::MAX_BATCH as u64;

#[derive(Debug, Clone, Validate)]
pub struct InvitationRequest {
    /// An option value of the wave's stratum question.
    #[validate(length(min = 1, max = 32, message = "must name one of the wave's strata"))]
    pub stratum: String,
    #[validate(range(min = 1, max = MOST_INVITATIONS))]
    pub count: u64,
}

impl InvitationRequest {
    /// The broken rules, one English sentence each.
    pub fn problems(&self) -> Vec<String> {
        crate::validation::broken(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_holds_one_to_the_most_codes_of_a_named_stratum() {
        let ok = InvitationRequest {
            stratum: "huancui".into(),
            count: 500,
        };
        assert!(ok.problems().is_empty());
        let bad = InvitationRequest {
            stratum: String::new(),
            count: 0,
        };
        assert_eq!(
            bad.problems(),
            [
                "count must be between 1 and 100000, not 0",
                "stratum must name one of the wave's strata"
            ]
        );
    }
}
