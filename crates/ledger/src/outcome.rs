//! What one command did: its events, or the rejection that left the state unchanged.

use backstop_core::{Event, Rejection};
use serde::{Deserialize, Serialize};

/// What one command did: its events, or the rejection that left the state unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The command was applied and emitted these events (as JSON, in order).
    Applied {
        /// The events, serialized as the engine's `Event` JSON.
        events: Vec<serde_json::Value>,
    },
    /// The engine refused the command; the state is unchanged.
    Rejected {
        /// The rejection's stable numeric code.
        code: u16,
        /// The rejection in words.
        message: String,
        /// The rejection as the engine's `Rejection` JSON.
        rejection: serde_json::Value,
    },
}

impl Outcome {
    /// The outcome of an engine result, as the journal stores it.
    #[must_use]
    pub fn of(result: &Result<Vec<Event>, Rejection>) -> Outcome {
        match result {
            Ok(events) => Outcome::Applied { events: events.iter().map(to_json).collect() },
            Err(rejection) => Outcome::Rejected {
                code: rejection.code(),
                message: rejection.to_string(),
                rejection: to_json(rejection),
            },
        }
    }

    /// True when the command was applied.
    #[must_use]
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied { .. })
    }
}

/// A value as JSON; engine types always serialize, but should one ever fail its error text is
/// stored instead, so the outcome (and any replay comparing it) stays deterministic.
fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value)
        .unwrap_or_else(|error| serde_json::Value::String(format!("unserializable: {error}")))
}
