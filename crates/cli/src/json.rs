//! JSON lines with fields in a fixed order, and ids replaced by venue names.
//!
//! `serde_json`'s `Value` sorts object keys, so events are serialised to text (which keeps the
//! declaration order of their fields) and read back as an ordered list of fields.

use backstop_core::VenueConfig;
use backstop_core::ids::{AssetId, PerpMarketId};
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::io::Write;

/// A JSON object as an ordered list of fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Object(pub(crate) Vec<(String, Value)>);

impl Object {
    /// The fields of a value that serialises to a JSON object, in serialisation order.
    pub(crate) fn of<T: Serialize>(value: &T) -> anyhow::Result<Object> {
        let text = serde_json::to_string(value)?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Appends a field.
    pub(crate) fn push(&mut self, key: &str, value: impl Into<Value>) {
        self.0.push((key.to_owned(), value.into()));
    }

    /// Appends every field of another object.
    pub(crate) fn extend(&mut self, other: Object) {
        self.0.extend(other.0);
    }

    /// Writes the object as one line.
    pub(crate) fn write_line(&self, out: &mut dyn Write) -> anyhow::Result<()> {
        out.write_all(b"{")?;
        for (index, (key, value)) in self.0.iter().enumerate() {
            if index > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, key)?;
            out.write_all(b":")?;
            serde_json::to_writer(&mut *out, value)?;
        }
        out.write_all(b"}\n")?;
        Ok(())
    }

    /// Replaces asset ids by symbols (fields `asset`, `debt`, `collateral`) and perpetual market
    /// ids by names (field `market`, including `{"lending": id}` / `{"perp": id}` references).
    /// Fields holding anything other than an id (such as an amount string) are left alone.
    pub(crate) fn name_ids(&mut self, config: &VenueConfig) {
        for (key, value) in &mut self.0 {
            match key.as_str() {
                "asset" | "debt" | "collateral" => name_asset(value, config),
                "market" => match value {
                    Value::Object(reference) => {
                        if let Some(asset) = reference.get_mut("lending") {
                            name_asset(asset, config);
                        }
                        if let Some(market) = reference.get_mut("perp") {
                            name_market(market, config);
                        }
                    }
                    other => name_market(other, config),
                },
                _ => {}
            }
        }
    }
}

fn name_asset(value: &mut Value, config: &VenueConfig) {
    if let Some(id) = value.as_u64().and_then(|id| u16::try_from(id).ok()) {
        *value = Value::from(config.asset_symbol(AssetId(id)));
    }
}

fn name_market(value: &mut Value, config: &VenueConfig) {
    if let Some(id) = value.as_u64().and_then(|id| u16::try_from(id).ok()) {
        *value = Value::from(config.perp_name(PerpMarketId(id)));
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Object, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = Object;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                let mut fields = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    fields.push((key, value));
                }
                Ok(Object(fields))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}
