//! The SQLite writer lock is held on the database file itself, so every path to the file meets
//! the same lock: a hard link or a symlink to a journal cannot start a second writer.

mod common;

use backstop_ledger::{Ledger, LedgerError};
use common::Db;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Another path to the test's database, removed with its WAL files when dropped.
struct Alias(PathBuf);

impl Drop for Alias {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.0.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The SQLite file behind `db`.
fn db_path(db: &Db) -> &Path {
    match db {
        Db::Sqlite { path } => path,
        Db::Postgres { .. } => unreachable!("this test is SQLite-only"),
    }
}

/// Names the database a child process (this test binary, re-run) tries to take the lock on.
const CHILD_DB: &str = "BACKSTOP_WRITER_LOCK_CHILD_DB";

/// The child: tries the writer lock on `CHILD_DB` for 100 ms and prints what happened. Another
/// process, as a second server would be; a no-op when run as an ordinary test.
#[test]
fn child_tries_the_writer_lock() {
    let Ok(location) = std::env::var(CHILD_DB) else { return };
    let mut ledger = Ledger::open(&location).expect("the child opens the journal");
    match ledger.lock_writer(Duration::from_millis(100)) {
        Ok(()) => println!("child: locked"),
        Err(error @ LedgerError::WriterLocked { .. }) => println!("child: refused: {error}"),
        Err(other) => println!("child: failed: {other}"),
    }
}

/// What a second process trying the writer lock through `path` reports.
fn second_process(path: &Path) -> String {
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_tries_the_writer_lock", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, path)
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answer = stdout.split_once("child: ").map(|(_, rest)| rest.lines().next().unwrap_or(""));
    answer.unwrap_or_else(|| panic!("no answer from the child: {output:?}")).to_owned()
}

/// A second process trying the lock through `path` must be refused, naming `path`.
fn assert_refused(path: &Path) {
    let answer = second_process(path);
    assert!(answer.starts_with("refused: another writer holds"), "{answer}");
    assert!(answer.contains(&path.display().to_string()), "{answer}");
}

#[test]
fn a_hard_link_or_symlink_to_the_journal_cannot_start_a_second_writer() {
    let db = Db::sqlite();
    let path = db_path(&db).to_path_buf();
    let mut first = db.open_initialized();
    first.lock_writer(Duration::ZERO).expect("the first writer takes the lock");

    let hard = Alias(path.with_extension("hardlink.db"));
    std::fs::hard_link(&path, &hard.0).expect("hard link");
    let soft = Alias(path.with_extension("symlink.db"));
    std::os::unix::fs::symlink(&path, &soft.0).expect("symlink");
    assert_refused(&hard.0);
    assert_refused(&soft.0);
    assert_refused(&path);
    // No lock file is left beside the journal any more.
    let mut old_lock = path.into_os_string();
    old_lock.push(".writer-lock");
    assert!(!Path::new(&old_lock).exists(), "a lock file named after the path was created");

    // Released when its holder drops: the next writer, by any path, gets it.
    drop(first);
    assert_eq!(second_process(&hard.0), "locked");
    assert_eq!(second_process(&soft.0), "locked");
    let mut again = db.open();
    again.lock_writer(Duration::ZERO).expect("free once the first writer is gone");
    assert_refused(&hard.0);
}
