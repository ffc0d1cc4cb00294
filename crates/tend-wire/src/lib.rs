//! # tend-wire: what comes out of a supervision tree, as data
//!
//! The counterpart of [`tend-spec`](https://docs.rs/tend-spec) for what
//! comes *out* of a [tend](https://github.com/tend-rs/tend) tree: where a
//! child is ([`State`]), why it failed or was isolated ([`FailReason`],
//! [`IsolateCause`]), how an incarnation ended ([`Exit`], with its
//! [`ExitKind`] and [`ExitClass`]), what an operator asked for
//! ([`Action`]), the journal's facts ([`Record`], [`Entry`]) and the
//! daemon's API shapes ([`ServiceStatus`], [`Watch`], [`ErrorBody`], …).
//!
//! Every vocabulary is a snake_case enum with exactly one wording for
//! people (its `Display`), and every fact has one rendering as a line
//! ([`Entry::line`]): the `tend up` console, `tend events`, `tend top`,
//! `tend-run`, the HTML report and the web dashboard all say a thing the
//! same way, because they all say it through this crate. The engine
//! converts its own types into these once (`From`, in `tend-engine`); no
//! screen parses a string back.
//!
//! Plain serde types: no runtime, no engine, no I/O.
//!
//! ```
//! use tend_wire::{Exit, ExitClass, ExitKind, Record, Signal};
//!
//! let exit = Exit {
//!     kind: ExitKind::Shutdown,
//!     class: ExitClass::Shutdown,
//!     code: None,
//!     signal: Some(Signal::Term),
//!     reason: None,
//! };
//! assert_eq!(exit.to_string(), "shutdown (SIGTERM)");
//! let record = Record::Exited {
//!     service: "web".into(),
//!     generation: 2,
//!     exit,
//!     ran_for_ms: 1_500,
//!     pid: Some(4242),
//! };
//! assert_eq!(record.line("tend").to_string(), "web (pid 4242) exited after 1s 500ms: shutdown (SIGTERM)");
//! assert_eq!(serde_json::to_value(&record).unwrap()["exit"]["kind"], "shutdown");
//! ```

/// Defines a vocabulary: a fieldless enum whose words are snake_case on
/// the wire, the list of them ([`ALL`](State::ALL)) and its one wording
/// for people (`Display`), side by side, so none can be added without the
/// others.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every word of the vocabulary, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
        }

        /// The one wording for people.
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(match self {
                    $( $name::$variant => $text, )+
                })
            }
        }
    };
}

// Layers, from the bottom up: a module uses only those before it in this
// line (checked by .ci/layers).
// layers: text state exit action record api query
mod action;
mod api;
mod exit;
mod query;
mod record;
mod state;
mod text;

pub use action::Action;
pub use api::{
    ActOptions, Acted, Bound, DaemonInfo, ErrorBody, ErrorCode, ErrorDetail, Health, HealthStatus,
    HookInput, NodeKind, Readiness, ReloadReport, ServiceStatus, ShuttingDown, SignalRequest,
    StatusText, TreeNode, UpgradePlan, UpgradeRequest, Waiting, Watch,
};
pub use exit::{Exit, ExitKind, GiveUp};
pub use query::{EventsQuery, List, LogsQuery, ReloadQuery, ServicesQuery, WatchQuery};
pub use record::{BudgetInfo, Entry, Line, Record, RecordKind};
pub use state::{FailReason, IsolateCause, ProbeRole, State};
pub use tend_spec::{Condition, ExitClass, Signal};
pub use text::{escape, escape_bytes, is_escaped};
