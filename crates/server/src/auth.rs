//! API keys: generation from the OS random source, SHA-256 storage, and the lookup every request
//! goes through.
//!
//! A key reads `bsk_` followed by 64 lowercase hex digits (32 random bytes). Only its SHA-256
//! (hex) is stored, in the ledger's `api_keys` table with its role, the accounts it owns and a
//! label; the key itself is shown once, when it is made.

use crate::error::{ApiError, ErrorCode};
use crate::roles::Role;
use backstop_ledger::ApiKeyRecord;
use rand::TryRng;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Prefix of every API key.
pub const KEY_PREFIX: &str = "bsk_";

/// Most characters in a key's label.
pub const MAX_LABEL_CHARS: usize = 256;

/// A freshly generated API key and the record that stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The key, to hand to its holder once: it is not stored.
    pub key: String,
    /// What the ledger stores.
    pub record: ApiKeyRecord,
}

/// Why a key could not be made.
#[derive(Debug)]
pub enum KeyError {
    /// The role name is not one of admin, oracle, keeper, governance, user.
    UnknownRole(String),
    /// The label is longer than [`MAX_LABEL_CHARS`] or holds control characters.
    InvalidLabel,
    /// The operating system's random source failed.
    Random(String),
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyError::UnknownRole(role) => write!(
                f,
                "unknown role {role:?}: expected one of admin, oracle, keeper, governance, user"
            ),
            KeyError::InvalidLabel => write!(
                f,
                "a key's label is at most {MAX_LABEL_CHARS} characters, without control characters"
            ),
            KeyError::Random(message) => write!(f, "the OS random source failed: {message}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// The SHA-256 of a key, in lowercase hex: what the ledger stores and requests are matched on.
#[must_use]
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Makes a new key for a role: 32 bytes from the OS random source.
///
/// # Errors
/// An unknown role name, or a failing random source.
pub fn generate_key(role: &str, accounts: &[u64], label: &str) -> Result<NewKey, KeyError> {
    let role = Role::parse(role).ok_or_else(|| KeyError::UnknownRole(role.to_owned()))?;
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(KeyError::InvalidLabel);
    }
    let mut bytes = [0_u8; 32];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|error| KeyError::Random(error.to_string()))?;
    let key = format!("{KEY_PREFIX}{}", hex::encode(bytes));
    let mut accounts = accounts.to_vec();
    accounts.sort_unstable();
    accounts.dedup();
    let record = ApiKeyRecord {
        key_hash: hash_key(&key),
        role: role.as_str().to_owned(),
        accounts,
        label: label.to_owned(),
    };
    Ok(NewKey { key, record })
}

/// Who made a request: the role and accounts of the key it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's role.
    pub role: Role,
    /// The accounts the key owns, sorted.
    pub accounts: Vec<u64>,
    /// The key's hash (to name it in logs; never the key).
    pub key_hash: String,
}

impl Principal {
    /// Whether the key owns this account (admin, keeper and governance read every account).
    #[must_use]
    pub fn may_read_account(&self, account: u64) -> bool {
        self.role != Role::User || self.accounts.binary_search(&account).is_ok()
    }
}

/// The keys the server accepts, by hash.
#[derive(Debug, Clone, Default)]
pub struct KeyStore {
    by_hash: HashMap<String, Principal>,
}

impl KeyStore {
    /// A store of these records; records with an unknown role are skipped (and named in the
    /// returned list) rather than trusted.
    #[must_use]
    pub fn new(records: &[ApiKeyRecord]) -> (KeyStore, Vec<String>) {
        let mut store = KeyStore::default();
        let mut skipped = Vec::new();
        for record in records {
            if !store.insert(record) {
                skipped.push(record.key_hash.clone());
            }
        }
        (store, skipped)
    }

    /// Adds or replaces a key; false (and nothing added) when its role is unknown.
    pub fn insert(&mut self, record: &ApiKeyRecord) -> bool {
        let Some(role) = Role::parse(&record.role) else { return false };
        let mut accounts = record.accounts.clone();
        accounts.sort_unstable();
        accounts.dedup();
        self.by_hash.insert(
            record.key_hash.clone(),
            Principal { role, accounts, key_hash: record.key_hash.clone() },
        );
        true
    }

    /// Forgets a key.
    pub fn remove(&mut self, key_hash: &str) -> bool {
        self.by_hash.remove(key_hash).is_some()
    }

    /// How many keys the store holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the store holds no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The principal of an `Authorization` header value.
    ///
    /// # Errors
    /// `missing_api_key` without a header, `invalid_api_key` for anything but a known
    /// `Bearer` key.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Principal, ApiError> {
        let Some(header) = header else {
            return Err(ApiError::new(
                ErrorCode::MissingApiKey,
                "send an API key as `Authorization: Bearer bsk_…`",
            ));
        };
        let invalid = || ApiError::new(ErrorCode::InvalidApiKey, "unknown or revoked API key");
        // The scheme is case-insensitive (RFC 9110 §11.1); one or more spaces follow it.
        let bearer = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, key)| key.trim());
        let Some(key) = bearer else {
            return Err(ApiError::new(
                ErrorCode::InvalidApiKey,
                "the Authorization header must read `Bearer <key>`",
            ));
        };
        if !is_well_formed(key) {
            return Err(invalid());
        }
        self.by_hash.get(&hash_key(key)).cloned().ok_or_else(invalid)
    }
}

/// Whether a string has the shape of a stored key hash: 64 lowercase hex digits.
#[must_use]
pub fn is_key_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether a string has the shape of a key (prefix and 64 hex digits).
fn is_well_formed(key: &str) -> bool {
    key.strip_prefix(KEY_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape_and_only_their_hash_is_stored() {
        let first = generate_key("user", &[3, 1, 3], "alice").expect("the OS RNG works");
        let second = generate_key("user", &[], "bob").expect("the OS RNG works");
        assert!(first.key.starts_with("bsk_") && first.key.len() == 68, "{}", first.key);
        assert!(is_well_formed(&first.key));
        assert_ne!(first.key, second.key);
        assert_eq!(first.record.key_hash, hash_key(&first.key));
        assert!(!first.record.key_hash.contains(&first.key[4..]));
        assert_eq!(first.record.accounts, vec![1, 3]);
        assert_eq!(first.record.role, "user");
        assert!(matches!(generate_key("root", &[], ""), Err(KeyError::UnknownRole(_))));
        // Labels are short printable text (a NUL cannot even be stored on PostgreSQL).
        for label in ["a\0b", "line\nbreak", &"x".repeat(MAX_LABEL_CHARS + 1)] {
            assert!(
                matches!(generate_key("user", &[], label), Err(KeyError::InvalidLabel)),
                "{label:?}"
            );
        }
        assert!(generate_key("user", &[], &"é".repeat(MAX_LABEL_CHARS)).is_ok());
    }

    #[test]
    fn hash_is_sha256_hex_of_the_whole_key() {
        // sha256("abc"), the FIPS 180-2 test vector.
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn authentication_distinguishes_missing_malformed_unknown_and_known_keys() {
        let new = generate_key("keeper", &[5], "k").expect("the OS RNG works");
        let (store, skipped) = KeyStore::new(&[
            new.record.clone(),
            ApiKeyRecord {
                key_hash: "00".into(),
                role: "wizard".into(),
                accounts: vec![],
                label: String::new(),
            },
        ]);
        assert_eq!(skipped, vec!["00".to_owned()]);
        assert_eq!(store.len(), 1);
        let code = |header: Option<&str>| store.authenticate(header).map_err(|e| e.code);
        assert_eq!(code(None), Err(ErrorCode::MissingApiKey));
        assert_eq!(code(Some("Basic abc")), Err(ErrorCode::InvalidApiKey));
        assert_eq!(code(Some("Bearer bsk_00")), Err(ErrorCode::InvalidApiKey));
        let other = generate_key("admin", &[], "").expect("the OS RNG works");
        assert_eq!(code(Some(&format!("Bearer {}", other.key))), Err(ErrorCode::InvalidApiKey));
        let principal =
            store.authenticate(Some(&format!("Bearer {}", new.key))).expect("a known key");
        assert_eq!(principal.role, Role::Keeper);
        assert_eq!(principal.accounts, vec![5]);
        // The scheme is case-insensitive; the key is not.
        for scheme in ["bearer", "BEARER", "Bearer  "] {
            let header = format!("{scheme} {}", new.key);
            assert_eq!(store.authenticate(Some(&header)).map(|p| p.role), Ok(Role::Keeper));
        }
        let shouting = format!("Bearer {}", new.key.to_ascii_uppercase());
        assert_eq!(code(Some(&shouting)), Err(ErrorCode::InvalidApiKey));
        assert_eq!(code(Some("Bearer")), Err(ErrorCode::InvalidApiKey));
        assert_eq!(code(Some("Bearerbsk_00")), Err(ErrorCode::InvalidApiKey));
    }

    #[test]
    fn users_read_only_their_accounts() {
        let user = Principal { role: Role::User, accounts: vec![2, 4], key_hash: String::new() };
        assert!(user.may_read_account(4));
        assert!(!user.may_read_account(3));
        let keeper = Principal { role: Role::Keeper, accounts: vec![], key_hash: String::new() };
        assert!(keeper.may_read_account(3));
    }
}
