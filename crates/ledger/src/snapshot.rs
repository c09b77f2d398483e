//! Engine snapshots as the journal stores them: the engine's `EngineSnapshot` as JSON.

use backstop_core::{Engine, EngineSnapshot};

/// The engine's snapshot as JSON text.
pub(crate) fn encode(engine: &Engine) -> Result<String, String> {
    serde_json::to_string(&engine.snapshot())
        .map_err(|e| format!("cannot serialize the engine snapshot: {e}"))
}

/// An engine rebuilt from snapshot JSON text.
pub(crate) fn decode(json: &str) -> Result<Engine, String> {
    let snapshot: EngineSnapshot =
        serde_json::from_str(json).map_err(|e| format!("snapshot is not valid JSON: {e}"))?;
    Engine::from_snapshot(snapshot).map_err(|e| format!("the engine refused the snapshot: {e}"))
}
