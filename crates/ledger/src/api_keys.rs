//! API keys as the journal stores them: hashed, with a role and the accounts they own.

use serde::{Deserialize, Serialize};

/// An API key as stored: only its SHA-256 (hex), its role name, the accounts it owns, a label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// SHA-256 of the secret key, lowercase hex.
    pub key_hash: String,
    /// Role name (admin, oracle, keeper, governance, user).
    pub role: String,
    /// Accounts the key owns (meaningful for the user role).
    pub accounts: Vec<u64>,
    /// A human label.
    pub label: String,
}
