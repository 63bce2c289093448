//! Fieldwork: how a wave's responses are collected, and whether they can
//! be trusted. A wave is open to anyone or by invitation (or both); an
//! invitation wave has a sampling frame (population per stratum) and
//! batches of personal codes; the frame and the completed responses give
//! the design weights; and every response can carry data-quality flags.
//!
//! Everything here is pure domain logic; `db` stores it and `web`/`cli`
//! show it.

/// An enum of named choices (`open`, `invited`, `speeder`…): its list of
/// all values, its name for each, `Display`, and `FromStr` with an error
/// that lists the choices.
macro_rules! named_choices {
    (
        $(#[$meta:meta])*
        pub enum $name:ident / $error:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error("unknown {} {:?}; use one of: {}", $what, .0, [$($text),+].join(", "))]
        pub struct $error(pub String);

        impl std::str::FromStr for $name {
            type Err = $error;
            fn from_str(s: &str) -> Result<$name, $error> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|x| x.as_str() == s.trim())
                    .ok_or_else(|| $error(s.to_string()))
            }
        }
    };
}

pub mod code;
pub mod figures;
pub mod qr;
pub mod quality;
pub mod request;
pub mod resume;
pub mod wave;

pub use code::{CodeError, InvitationCode};
pub use figures::{fieldwork_report, FieldworkReport, FlagCounts, SourceCounts, StratumCounts};
pub use quality::{Flag, Flags};
pub use request::InvitationRequest;
pub use resume::ResumeCode;
pub use wave::{Access, CurrentWave, FrameError, FrameStratum, Source, WaveSettings};
