//! The head record: the newest acknowledged seq and entry hash, kept where a lost journal tail
//! cannot take it along.
//!
//! SQLite loses a WAL tail silently: recovery stops at the first frame whose checksum fails and
//! drops every later frame, and a damaged WAL header drops the whole WAL. So on SQLite the record is
//! a small file beside the database, `<db>.head` (the database path with symlinks resolved),
//! replaced atomically (write a temporary file, fsync, rename, fsync the directory) after every
//! committed append and before the append returns. On PostgreSQL it is the `journal_head` row,
//! written in the append's own transaction.
//!
//! The file is text, checked by its own SHA-256:
//!
//! ```text
//! backstop.head.v1
//! seq 5
//! entry_hash <64 hex digits>
//! check <64 hex digits: SHA-256 of the three lines above, each with its newline>
//! ```

use crate::chain::{ChainHead, from_hex, to_hex};
use crate::error::LedgerError;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// First line of a head file.
const MAGIC: &str = "backstop.head.v1";

/// The head file of the SQLite journal at `db` (an existing file): `<db>.head` beside the
/// database's real path, so a symlink to the journal finds the same record.
pub(crate) fn head_path(db: &str) -> PathBuf {
    let real = std::fs::canonicalize(db).unwrap_or_else(|_| PathBuf::from(db));
    let mut name = real.into_os_string();
    name.push(".head");
    PathBuf::from(name)
}

/// The head file's text for `head`.
pub(crate) fn encode(head: &ChainHead) -> String {
    let body = format!("{MAGIC}\nseq {}\nentry_hash {}\n", head.seq, to_hex(&head.entry_hash));
    let check = to_hex(&Sha256::digest(body.as_bytes()).into());
    format!("{body}check {check}\n")
}

/// Parses a head file's text, refusing anything but exactly what [`encode`] writes (so any
/// changed byte, the checksum's included, is refused).
pub(crate) fn decode(text: &str) -> Result<ChainHead, String> {
    let mut lines = text.lines();
    let magic = lines.next();
    let seq = lines.next().and_then(|l| l.strip_prefix("seq ")).and_then(|s| s.parse().ok());
    let hash = lines.next().and_then(|l| l.strip_prefix("entry_hash ")).and_then(from_hex);
    let (Some(MAGIC), Some(seq), Some(entry_hash)) = (magic, seq, hash) else {
        return Err(format!("it is not a {MAGIC} record (damaged?)"));
    };
    let head = ChainHead { seq, entry_hash };
    if encode(&head) != text {
        return Err("its checksum does not match its contents (the record is damaged)".to_owned());
    }
    Ok(head)
}

/// Reads the head file; `None` when there is none.
pub(crate) fn read(path: &Path) -> Result<Option<ChainHead>, LedgerError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(LedgerError::backend(
                &format!("reading the head record {}", path.display()),
                e,
            ));
        }
    };
    let text = String::from_utf8(text).map_err(|_| LedgerError::HeadRecord {
        seq: 0,
        what: format!("{} is not UTF-8 text (the record is damaged)", path.display()),
    })?;
    decode(&text).map(Some).map_err(|why| LedgerError::HeadRecord {
        seq: 0,
        what: format!("{} cannot be read: {why}", path.display()),
    })
}

/// Replaces the head file atomically and durably: a temporary file beside it, fsynced, renamed
/// over it, and the directory fsynced, so after a crash the record is the old one or the new one.
pub(crate) fn write(path: &Path, head: &ChainHead) -> Result<(), LedgerError> {
    let context = format!("writing the head record {}", path.display());
    let fail = |e: std::io::Error| LedgerError::backend(&context, e);
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::File::create(&temporary).map_err(fail)?;
    file.write_all(encode(head).as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(fail)?;
    let directory = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(directory).and_then(|d| d.sync_all()).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_record_reads_back_and_refuses_any_change() {
        let head = ChainHead { seq: 5, entry_hash: [0xab; 32] };
        let text = encode(&head);
        assert_eq!(decode(&text), Ok(head));
        assert!(text.starts_with("backstop.head.v1\nseq 5\nentry_hash abab"), "{text}");
        for index in 0..text.len() {
            for bit in 0..8 {
                let mut bytes = text.clone().into_bytes();
                bytes[index] ^= 1 << bit;
                let Ok(changed) = String::from_utf8(bytes) else { continue };
                assert!(decode(&changed).is_err(), "byte {index} bit {bit}: {changed:?}");
            }
        }
        assert!(decode("").is_err());
        assert!(decode(&text[..text.len() - 1]).is_err());
    }
}
