//! Fieldwork: how a wave's responses are collected, and whether they can
//! be trusted. A wave is open to anyone or by invitation (or both); an
//! invitation wave has a sampling frame (population per stratum) and
//! batches of personal codes; the frame and the completed responses give
//! the design weights; and every response can carry data-quality flags.
//!
//! Everything here is pure domain logic; `db` stores it and `web`/`cli`
//! show it.

pub mod code;
pub mod figures;
pub mod qr;
pub mod quality;
pub mod wave;

pub use code::{CodeError, InvitationCode};
pub use figures::{fieldwork_report, FieldworkReport, FlagCounts, SourceCounts, StratumCounts};
pub use quality::{Flag, Flags};
pub use wave::{Access, CurrentWave, FrameError, FrameStratum, Source, WaveSettings};
