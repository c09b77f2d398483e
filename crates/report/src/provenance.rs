//! Where a report came from: the git commit of the source tree and the SHA-256 of its Cargo.lock.
//! Both are read from files (no `git` process); anything unreadable gives `"unknown"`.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What a value is when it cannot be found.
pub const UNKNOWN: &str = "unknown";

/// The commit checked out in the git repository containing `dir` (searched upward): `.git/HEAD`,
/// followed through a `ref:` to the loose ref file or `packed-refs`. A `.git` file (worktree or
/// submodule) is followed through its `gitdir:` line. `"unknown"` when there is no repository or
/// the ref cannot be resolved.
#[must_use]
pub fn git_commit(dir: &Path) -> String {
    git_dir(dir).and_then(|git| resolve_head(&git)).unwrap_or_else(|| UNKNOWN.to_owned())
}

/// Hex SHA-256 of a file (a `Cargo.lock`), or `"unknown"` when it cannot be read.
#[must_use]
pub fn file_sha256(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => hex(&Sha256::digest(&bytes)),
        Err(_) => UNKNOWN.to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The git directory of the repository containing `dir`.
fn git_dir(dir: &Path) -> Option<PathBuf> {
    let start = dir.canonicalize().ok()?;
    for ancestor in start.ancestors() {
        let candidate = ancestor.join(".git");
        if candidate.is_dir() {
            return Some(candidate);
        }
        if candidate.is_file() {
            let text = std::fs::read_to_string(&candidate).ok()?;
            let target = text.lines().find_map(|line| line.strip_prefix("gitdir:"))?.trim();
            return Some(ancestor.join(target));
        }
    }
    None
}

fn resolve_head(git: &Path) -> Option<String> {
    let head = std::fs::read_to_string(git.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref:") else {
        return is_hash(head).then(|| head.to_owned());
    };
    let reference = reference.trim();
    // Worktrees keep shared refs in the common directory.
    let common = std::fs::read_to_string(git.join("commondir"))
        .ok()
        .map(|relative| git.join(relative.trim()))
        .unwrap_or_else(|| git.to_path_buf());
    for base in [git, common.as_path()] {
        if let Ok(text) = std::fs::read_to_string(base.join(reference)) {
            let hash = text.trim();
            if is_hash(hash) {
                return Some(hash.to_owned());
            }
        }
        if let Ok(packed) = std::fs::read_to_string(base.join("packed-refs")) {
            for line in packed.lines() {
                if let Some((hash, name)) = line.split_once(' ')
                    && name.trim() == reference
                    && is_hash(hash)
                {
                    return Some(hash.to_owned());
                }
            }
        }
    }
    None
}

fn is_hash(text: &str) -> bool {
    (text.len() == 40 || text.len() == 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{file_sha256, git_commit, hex};

    #[test]
    fn sha256_of_a_file() {
        let dir = std::env::temp_dir().join(format!("backstop-report-sha-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("abc.txt");
        std::fs::write(&path, "abc").unwrap();
        assert_eq!(
            file_sha256(&path),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(file_sha256(&dir.join("missing")), "unknown");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(hex(&[0x00, 0xab]), "00ab");
    }

    #[test]
    fn git_commit_through_a_loose_ref_and_packed_refs() {
        let dir = std::env::temp_dir().join(format!("backstop-report-git-{}", std::process::id()));
        let git = dir.join(".git");
        std::fs::create_dir_all(git.join("refs/heads")).unwrap();
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let hash = "0123456789abcdef0123456789abcdef01234567";
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(git.join("refs/heads/main"), format!("{hash}\n")).unwrap();
        assert_eq!(git_commit(&dir.join("sub")), hash);
        std::fs::remove_file(git.join("refs/heads/main")).unwrap();
        let packed = format!("# pack-refs with: peeled\n{hash} refs/heads/main\n");
        std::fs::write(git.join("packed-refs"), packed).unwrap();
        assert_eq!(git_commit(&dir), hash);
        std::fs::write(git.join("HEAD"), "ref: refs/heads/other\n").unwrap();
        assert_eq!(git_commit(&dir), "unknown");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
