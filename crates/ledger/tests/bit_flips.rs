//! One flipped bit anywhere in an SQLite journal (the database file, or its WAL after a crash)
//! is either refused or provably harmless: the journal then replays to exactly the acknowledged
//! head, state and idempotency keys. Never a silent loss, never a fresh journal.
//!
//! A journal of the test script (5 appends, a snapshot, an API key) is written; its files are
//! taken either after a clean close (everything checkpointed into the database file, no WAL) or
//! while the writer is still open (as SIGKILL leaves them: every commit in the WAL). Then, for
//! each offset chosen below, one bit is flipped in a copy and the copy is opened the way `serve`
//! opens a journal (`initialize`, then `replay_from_genesis`) and the way `replay
//! --from-snapshot` does (`recover`).

mod common;

use backstop_ledger::{ApiKeyRecord, ChainHead, KeyUse, Ledger, LedgerError};
use common::{VENUE, script_batches};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// SQLite's page size (the default this build uses).
const PAGE: usize = 4096;
/// Size of a WAL frame header and of the WAL file header.
const WAL_FRAME_HEADER: usize = 24;
/// Size of the WAL file header.
const WAL_HEADER: usize = 32;
/// Every this many bytes is flipped outside the dense regions (headers); `BACKSTOP_FLIP_STRIDE=1`
/// flips every byte (minutes in a debug build; docs/ledger.md has that run's figures).
const STRIDE: usize = 151;

/// The stride in use: [`STRIDE`] unless `BACKSTOP_FLIP_STRIDE` says otherwise.
fn stride() -> usize {
    std::env::var("BACKSTOP_FLIP_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(STRIDE)
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir()
            .join(format!("backstop_flips_{name}_{}_{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The journal's files as bytes: the database, its WAL (empty after a clean close) and the
/// head record.
struct Image {
    db: Vec<u8>,
    wal: Vec<u8>,
    head: Vec<u8>,
}

/// What the acknowledged journal replays to.
#[derive(Debug, PartialEq)]
struct Acknowledged {
    head: ChainHead,
    state_hash: [u8; 32],
    keys: BTreeMap<String, (u64, u32, [u8; 32])>,
}

/// The key map as a comparable value.
fn key_map(keys: &HashMap<String, KeyUse>) -> BTreeMap<String, (u64, u32, [u8; 32])> {
    keys.iter().map(|(k, u)| (k.clone(), (u.seq, u.index, u.command_digest))).collect()
}

/// Writes the test journal at `path`; returns its files either after a clean close
/// (`crashed` false) or while the writer is still open (`crashed` true), and what it replays to.
fn journal_image(path: &Path, crashed: bool) -> (Image, Acknowledged) {
    let location = path.display().to_string();
    let mut ledger = Ledger::open(&location).expect("open");
    ledger.lock_writer(std::time::Duration::ZERO).expect("writer lock");
    ledger.initialize(VENUE).expect("initialize");
    let (sealer, batches) = script_batches();
    for batch in &batches {
        ledger.append(std::slice::from_ref(batch)).expect("append");
        if batch.seq == 3 {
            let mut at_3 =
                Ledger::open(&location).expect("open").replay_from_genesis().expect("replay");
            ledger.write_snapshot(3, &at_3.engine).expect("snapshot");
            assert_eq!(at_3.head.seq, 3);
            let _ = at_3.engine.state_hash();
        }
    }
    for record in api_keys() {
        ledger.add_api_key(&record).expect("api key");
    }
    let mut recovered = ledger.replay_from_genesis().expect("replay");
    let acknowledged = Acknowledged {
        head: sealer.head,
        state_hash: recovered.engine.state_hash(),
        keys: key_map(&recovered.keys),
    };
    assert_eq!(recovered.head, sealer.head);
    let read = |suffix: &str| std::fs::read(with_suffix(path, suffix)).unwrap_or_default();
    let image = if crashed {
        let image = Image { db: read(""), wal: read("-wal"), head: read(".head") };
        drop(ledger);
        image
    } else {
        drop(ledger);
        Image { db: read(""), wal: read("-wal"), head: read(".head") }
    };
    (image, acknowledged)
}

/// The API key the test journal holds.
fn api_keys() -> Vec<ApiKeyRecord> {
    vec![ApiKeyRecord {
        key_hash: "ab".repeat(32),
        role: "user".to_owned(),
        accounts: vec![1],
        label: "flip".to_owned(),
    }]
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// How one opening of a damaged copy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    /// The journal replays to exactly the acknowledged head, state and keys.
    Identical,
    /// The journal is identical but the API keys are not (a known gap: API keys are not yet
    /// covered by a checksum or the head record; see docs/ledger.md).
    ApiKeysChanged,
    /// Refused, by the ledger's own checks (hash chain, head record, replay) ...
    RefusedByLedger,
    /// ... or by SQLite (the file cannot be read as a database).
    RefusedBySqlite,
}

/// Opens the copy at `path` as `serve` and `replay --from-snapshot` do. Panics on a silent
/// loss or change: anything that opens but is not the acknowledged journal.
fn open_copy(path: &Path, acknowledged: &Acknowledged, what: &str) -> Verdict {
    let verdict = |error: &LedgerError| match error {
        LedgerError::Backend { .. } => Verdict::RefusedBySqlite,
        _ => Verdict::RefusedByLedger,
    };
    let location = path.display().to_string();
    let mut ledger = match Ledger::open(&location) {
        Ok(ledger) => ledger,
        Err(error) => return verdict(&error),
    };
    if let Err(error) = ledger.initialize(VENUE) {
        return verdict(&error);
    }
    let mut verdicts = Vec::new();
    for from_snapshot in [false, true] {
        let result = if from_snapshot { ledger.recover() } else { ledger.replay_from_genesis() };
        match result {
            Ok(mut recovered) => {
                let found = Acknowledged {
                    head: recovered.head,
                    state_hash: recovered.engine.state_hash(),
                    keys: key_map(&recovered.keys),
                };
                assert_eq!(
                    &found, acknowledged,
                    "{what}: opened without error (from_snapshot {from_snapshot}) but is not the \
                     acknowledged journal"
                );
                verdicts.push(Verdict::Identical);
            }
            Err(error) => verdicts.push(verdict(&error)),
        }
    }
    // Report the stricter verdict of the two.
    let verdict = verdicts.into_iter().max().unwrap_or(Verdict::Identical);
    if verdict == Verdict::Identical && ledger.api_keys().ok() != Some(api_keys()) {
        return Verdict::ApiKeysChanged;
    }
    verdict
}

/// Flips bit `offset % 8` of byte `offset` in one of the image's files, writes the copy and
/// opens it.
fn trial(
    dir: &Scratch,
    image: &Image,
    in_wal: bool,
    offset: usize,
    acknowledged: &Acknowledged,
) -> Verdict {
    let path = dir.path("copy.db");
    for suffix in ["-wal", "-shm", ".head"] {
        let _ = std::fs::remove_file(with_suffix(&path, suffix));
    }
    let (mut db, mut wal) = (image.db.clone(), image.wal.clone());
    let target = if in_wal { &mut wal } else { &mut db };
    target[offset] ^= 1 << (offset % 8);
    std::fs::write(&path, &db).expect("write the copy");
    if !wal.is_empty() {
        std::fs::write(with_suffix(&path, "-wal"), &wal).expect("write the WAL copy");
    }
    std::fs::write(with_suffix(&path, ".head"), &image.head).expect("write the head copy");
    let file = if in_wal { "WAL" } else { "database" };
    open_copy(&path, acknowledged, &format!("bit {} of {file} byte {offset}", offset % 8))
}

/// Offsets to try in a file of `len` bytes: every byte of the first `dense` bytes and of each
/// region start in `regions` (`region_len` bytes each), and every `stride`-th byte elsewhere.
fn offsets(
    len: usize,
    dense: usize,
    regions: &[usize],
    region_len: usize,
    stride: usize,
) -> Vec<usize> {
    let mut chosen: Vec<usize> = (0..dense.min(len)).collect();
    for start in regions {
        chosen.extend((*start..(*start + region_len).min(len)).collect::<Vec<_>>());
    }
    chosen.extend((0..len).step_by(stride));
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}

/// Runs every trial of one file and returns the verdict counts.
fn flip_all(
    image: &Image,
    in_wal: bool,
    chosen: &[usize],
    acknowledged: &Acknowledged,
) -> BTreeMap<Verdict, usize> {
    let dir = Scratch::new(if in_wal { "wal" } else { "db" });
    let mut counts = BTreeMap::new();
    for &offset in chosen {
        *counts.entry(trial(&dir, image, in_wal, offset, acknowledged)).or_insert(0) += 1;
    }
    counts
}

#[test]
fn a_flipped_bit_in_the_database_after_a_clean_close_is_refused_or_harmless() {
    let dir = Scratch::new("clean");
    let (image, acknowledged) = journal_image(&dir.path("journal.db"), false);
    assert!(image.wal.is_empty(), "a clean close checkpoints the WAL away");
    assert_eq!(image.db.len() % PAGE, 0);
    let page_starts: Vec<usize> = (0..image.db.len()).step_by(PAGE).collect();
    let chosen = offsets(image.db.len(), 100, &page_starts, 16, stride());
    let counts = flip_all(&image, false, &chosen, &acknowledged);
    eprintln!("database ({} bytes), {} flips: {counts:?}", image.db.len(), chosen.len());
    assert!(counts.get(&Verdict::RefusedByLedger).copied().unwrap_or(0) > 0, "{counts:?}");
}

#[test]
fn a_flipped_bit_in_the_wal_after_a_crash_is_refused_or_harmless() {
    let dir = Scratch::new("crash");
    let (image, acknowledged) = journal_image(&dir.path("journal.db"), true);
    assert!(!image.wal.is_empty(), "every commit is still in the WAL");
    let frame = WAL_FRAME_HEADER + PAGE;
    assert_eq!((image.wal.len() - WAL_HEADER) % frame, 0);
    let frame_starts: Vec<usize> = (WAL_HEADER..image.wal.len()).step_by(frame).collect();
    // Every byte of the first, the second and the last frame's header (each frame's checksum
    // covers its header and page, so the others behave alike).
    let sampled = [frame_starts[0], frame_starts[1], frame_starts[frame_starts.len() - 1]];
    let chosen = offsets(image.wal.len(), WAL_HEADER, &sampled, WAL_FRAME_HEADER, stride());
    let counts = flip_all(&image, true, &chosen, &acknowledged);
    eprintln!(
        "WAL ({} bytes, {} frames), {} flips: {counts:?}",
        image.wal.len(),
        frame_starts.len(),
        chosen.len()
    );
    let chosen = offsets(image.db.len(), 100, &[], 0, stride());
    let db_counts = flip_all(&image, false, &chosen, &acknowledged);
    eprintln!(
        "database beside it ({} bytes), {} flips: {db_counts:?}",
        image.db.len(),
        chosen.len()
    );
}

#[test]
#[ignore = "known gap: API keys are outside the head record and carry no checksum"]
fn known_gap_a_lost_or_changed_api_key_is_refused() {
    let dir = Scratch::new("keys");
    let (image, acknowledged) = journal_image(&dir.path("journal.db"), true);
    // The last WAL frame holds the API key's insert: losing it loses the key silently.
    let last_frame = image.wal.len() - PAGE;
    let verdict = trial(&Scratch::new("keys_trial"), &image, true, last_frame, &acknowledged);
    assert_ne!(verdict, Verdict::ApiKeysChanged);
}
