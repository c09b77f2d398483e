//! What one command did: its events, or the rejection that left the state unchanged.

use backstop_core::{Event, Rejection};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use std::sync::Arc;

/// What one command did: its events, or the rejection that left the state unchanged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The command was applied and emitted these events (as JSON, in order).
    Applied {
        /// The events, serialized as the engine's `Event` JSON.
        events: Events,
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
            Ok(events) => Outcome::Applied { events: Events::of(events) },
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

/// The events of an applied command as one JSON array, serialized once and shared (cloning is
/// an `Arc` increment) by the journal row, the live stream and the answers.
///
/// The text is exactly what the journal stores: each event as a `serde_json::Value` written
/// compactly (object keys in sorted order). Two `Events` are equal when their texts are.
#[derive(Debug, Clone)]
pub struct Events(Arc<RawValue>);

impl Events {
    /// The engine's events as the journal stores them.
    #[must_use]
    pub fn of(events: &[Event]) -> Events {
        Events::from_values(&events.iter().map(to_json).collect::<Vec<_>>())
    }

    /// Events from their JSON values (the canonical text is that of the array of values).
    #[must_use]
    pub fn from_values(values: &[serde_json::Value]) -> Events {
        // Writing `Value`s cannot fail (and `to_raw_value` does not parse its own output back);
        // should it fail, the error text keeps the outcome deterministic, as `to_json` does.
        match serde_json::value::to_raw_value(values) {
            Ok(raw) => Events(Arc::from(raw)),
            Err(error) => {
                let text = serde_json::Value::String(format!("unserializable: {error}"));
                let raw = serde_json::value::to_raw_value(&[text])
                    .unwrap_or_else(|_| RawValue::NULL.to_owned());
                Events(Arc::from(raw))
            }
        }
    }

    /// The JSON array text.
    #[must_use]
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The events as JSON values (parses the text).
    ///
    /// # Errors
    /// The text is not an array of JSON values (it always is for events made by this crate).
    pub fn to_values(&self) -> Result<Vec<serde_json::Value>, serde_json::Error> {
        serde_json::from_str(self.json())
    }
}

impl PartialEq for Events {
    fn eq(&self, other: &Events) -> bool {
        self.json() == other.json()
    }
}

impl Serialize for Events {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Events {
    /// Reads a JSON array of events. The stored text is kept when it is already canonical (as
    /// the journal writes it); otherwise it is re-written canonically, so that comparing texts
    /// compares the events.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Events, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let values: Vec<serde_json::Value> = serde_json::from_str(raw.get())
            .map_err(|error| D::Error::custom(format!("events: {error}")))?;
        let events = Events::from_values(&values);
        if events.json() == raw.get() { Ok(Events(Arc::from(raw))) } else { Ok(events) }
    }
}

/// The wire form of an outcome: a plain struct, so that the events' raw JSON is read straight
/// from the input (serde's internally tagged enums buffer their input, which raw JSON cannot
/// pass through).
#[derive(Deserialize)]
struct OutcomeWire {
    status: Status,
    events: Option<Events>,
    code: Option<u16>,
    message: Option<String>,
    rejection: Option<serde_json::Value>,
}

/// The `status` tag.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Applied,
    Rejected,
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Outcome, D::Error> {
        let wire = OutcomeWire::deserialize(deserializer)?;
        match wire.status {
            Status::Applied => Ok(Outcome::Applied {
                events: wire.events.ok_or_else(|| D::Error::missing_field("events"))?,
            }),
            Status::Rejected => Ok(Outcome::Rejected {
                code: wire.code.ok_or_else(|| D::Error::missing_field("code"))?,
                message: wire.message.ok_or_else(|| D::Error::missing_field("message"))?,
                rejection: wire.rejection.ok_or_else(|| D::Error::missing_field("rejection"))?,
            }),
        }
    }
}

/// A value as JSON; engine types always serialize, but should one ever fail its error text is
/// stored instead, so the outcome (and any replay comparing it) stays deterministic.
fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value)
        .unwrap_or_else(|error| serde_json::Value::String(format!("unserializable: {error}")))
}
