//! The writer: the one thread that owns the ledger and changes the engine.
//!
//! Handlers enqueue [`Submission`]s on a bounded channel. The writer takes one, then every
//! submission already waiting up to `max_group_commands` commands (a group commit), and under the
//! engine's write lock: resolves idempotency keys, applies the fresh commands, seals one journal
//! batch per submission, and appends the whole group in one durable transaction. Only then does
//! it release the lock (so a reader never sees state that is not durable), publish the batches to
//! live streams, and answer every submission; what the group leaves behind is freed on a
//! reclaiming thread, not on the writer.
//!
//! If the append fails, every submission of the group is answered `journal_unavailable` and the
//! engine is rebuilt from the journal; if that fails too the writer marks the server unhealthy
//! and answers everything after with `unhealthy`.

use crate::envelope::{BatchResponse, CommandResult};
use crate::metrics::Metrics;
use backstop_core::{Command, Engine};
use backstop_ledger::{Batch, ChainHead, Hash32, KeyUse, Ledger, Outcome, command_digest};
use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot};

/// What readers see: the engine, and the durable journal head it is at.
#[derive(Debug)]
pub struct Shared {
    /// The engine, at `head`.
    pub engine: Engine,
    /// Newest durable journal entry.
    pub head: ChainHead,
    /// Engine state hash at `head`.
    pub state_hash: Hash32,
    /// Set when a command broke an engine invariant: the engine was rebuilt from the journal
    /// (nothing of that group was written) and the writer accepts no more commands until an
    /// operator restarts the server.
    pub halted: Option<String>,
}

/// One command to apply, with its idempotency key.
#[derive(Debug, Clone)]
pub struct Item {
    /// The command.
    pub command: Command,
    /// Its idempotency key, if any.
    pub key: Option<String>,
}

/// A request for the writer: its commands and where to answer.
#[derive(Debug)]
pub struct Submission {
    /// Commands, in order; they become one journal batch.
    pub items: Vec<Item>,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Reply>,
}

/// The writer's answer to a submission.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Durable: one result per command.
    Written(BatchResponse),
    /// An idempotency key was used before for a different command: nothing was applied.
    Conflict {
        /// The key.
        key: String,
        /// Position of the command carrying it in the submission.
        index: usize,
    },
    /// The journal write failed, or another request of the group failed: nothing of the
    /// submission is acknowledged.
    Unavailable(String),
    /// The engine panicked on one of the submission's commands (a bug): nothing was written.
    Failed(String),
    /// A command broke an engine invariant (now or earlier): nothing of the submission was
    /// written and the writer takes no more commands.
    Halted(String),
    /// The writer is out of service.
    Unhealthy,
}

/// What the writer's queue carries.
#[derive(Debug)]
pub enum Message {
    /// A request to apply.
    Submit(Submission),
    /// Finish what is queued before this, then exit.
    Stop,
}

/// Tuning of the writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterSettings {
    /// Most commands in one group commit (a single larger submission still goes alone).
    pub max_group_commands: usize,
    /// A snapshot is written whenever the journal head crosses a multiple of this (0: never).
    pub snapshot_every: u64,
    /// Pause before each group commit (zero except in tests that need a full queue).
    pub commit_delay: Duration,
}

/// The writer thread's state.
pub struct Writer {
    /// The journal, written only here.
    pub ledger: Ledger,
    /// Engine and head, shared with readers.
    pub shared: Arc<RwLock<Shared>>,
    /// Every idempotency key used so far. A B-tree, not a hash map: a hash map doubles and
    /// rehashes every key while the writer holds the engine lock, a stall that grows with the
    /// journal (measured: 335 ms at 0.9 M keys); a B-tree grows one node at a time.
    pub keys: BTreeMap<String, KeyUse>,
    /// Durable batches, for live streams.
    pub live: broadcast::Sender<Arc<Batch>>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Cleared when the writer is out of service.
    pub healthy: Arc<AtomicBool>,
    /// Tuning.
    pub settings: WriterSettings,
}

/// Where each command of a submission stands while its group is being built.
enum Slot {
    /// Applied now, as command `index` of batch `seq`.
    Fresh { seq: u64, index: u32 },
    /// Answered by an earlier use of its idempotency key.
    Duplicate(KeyUse),
}

/// The group being built: the chain head so far, keys used in it, its sealed batches.
struct Building {
    head: ChainHead,
    pending: HashMap<String, KeyUse>,
    batches: Vec<Batch>,
    counts: Counts,
}

/// Commands of a group by outcome.
#[derive(Debug, Default)]
struct Counts {
    applied: u64,
    rejected: u64,
    duplicates: u64,
}

/// Why a group stops before anything of it is written: the engine panicked on a command or
/// a command broke an invariant (both engine bugs).
struct Panicked {
    /// Position of the command in its submission.
    index: usize,
    /// Its name.
    command: &'static str,
    /// The broken invariant, when the engine halted instead of panicking.
    broken: Option<String>,
}

/// What happens to one submission of the group.
enum Plan {
    /// Refused whole for an idempotency conflict.
    Conflict { key: String, index: usize },
    /// Its commands' slots, and the batch it wrote, if any.
    Results { seq: Option<u64>, slots: Vec<Slot> },
}

impl Writer {
    /// Runs until a [`Message::Stop`] or until every sender is gone.
    pub fn run(mut self, mut queue: mpsc::Receiver<Message>) {
        // If anything below panics, the server stops acknowledging commands.
        let _guard = UnhealthyOnPanic(Arc::clone(&self.healthy));
        let max = self.settings.max_group_commands.max(1);
        let reclaim = Reclaim::start();
        loop {
            let first = match queue.blocking_recv() {
                Some(Message::Submit(submission)) => submission,
                Some(Message::Stop) | None => return,
            };
            let mut count = first.items.len();
            let mut group = vec![first];
            let mut stop = false;
            while count < max {
                match queue.try_recv() {
                    Ok(Message::Submit(submission)) => {
                        count = count.saturating_add(submission.items.len());
                        group.push(submission);
                    }
                    Ok(Message::Stop) => {
                        stop = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            if !self.settings.commit_delay.is_zero() {
                std::thread::sleep(self.settings.commit_delay);
            }
            self.commit(group, &reclaim);
            if stop {
                return;
            }
        }
    }

    /// Applies, journals and answers one group of submissions.
    fn commit(&mut self, group: Vec<Submission>, reclaim: &Reclaim) {
        if !self.healthy.load(Ordering::SeqCst) {
            for submission in group {
                let _ = submission.reply.send(Reply::Unhealthy);
            }
            return;
        }
        let started = Instant::now();
        let shared_lock = Arc::clone(&self.shared);
        let mut shared = shared_lock.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(message) = shared.halted.clone() {
            drop(shared);
            for submission in group {
                let _ = submission.reply.send(Reply::Halted(message.clone()));
            }
            return;
        }
        let first_seq = shared.head.seq.saturating_add(1);
        let mut building = Building {
            head: shared.head,
            pending: HashMap::new(),
            batches: Vec::new(),
            counts: Counts::default(),
        };
        let mut plans: Vec<Plan> = Vec::with_capacity(group.len());
        for (position, submission) in group.iter().enumerate() {
            match self.plan(&mut shared.engine, &mut building, &submission.items) {
                Ok(plan) => plans.push(plan),
                Err(Panicked { broken: Some(violation), .. }) => {
                    let message = format!(
                        "the commands of this request broke engine invariant {violation} (an \
                         engine bug): nothing was written and the writer takes no more commands \
                         until the server is restarted"
                    );
                    eprintln!("backstop-server: {message}; rebuilding the engine from the journal");
                    self.rebuild(&mut shared);
                    shared.halted = Some(message.clone());
                    drop(shared);
                    for submission in group {
                        let _ = submission.reply.send(Reply::Halted(message.clone()));
                    }
                    return;
                }
                Err(panic) => {
                    // An engine bug: nothing of the group is written; the engine, which may be
                    // half-way through a command, is rebuilt from the journal.
                    let message = format!(
                        "the engine panicked applying command {} ({}) of this request: a bug; \
                         nothing was written",
                        panic.index, panic.command
                    );
                    eprintln!("backstop-server: {message}; rebuilding the engine from the journal");
                    self.rebuild(&mut shared);
                    drop(shared);
                    for (other, submission) in group.into_iter().enumerate() {
                        let reply = if other == position {
                            Reply::Failed(message.clone())
                        } else {
                            Reply::Unavailable(
                                "another request in the same group commit failed".to_owned(),
                            )
                        };
                        let _ = submission.reply.send(reply);
                    }
                    return;
                }
            }
        }
        let Building { head, pending, batches, counts } = building;
        if !batches.is_empty() {
            if let Err(error) = self.ledger.append(&batches) {
                let message = format!("the journal could not be written: {error}");
                eprintln!("backstop-server: {message}; rebuilding the engine from the journal");
                self.rebuild(&mut shared);
                drop(shared);
                for submission in group {
                    let _ = submission.reply.send(Reply::Unavailable(message.clone()));
                }
                return;
            }
            let previous = shared.head.seq;
            shared.head = head;
            if let Some(last) = batches.last() {
                shared.state_hash = last.state_hash;
            }
            self.keys.extend(pending);
            let every = self.settings.snapshot_every;
            if every > 0 && previous / every != head.seq / every {
                self.snapshot(&mut shared);
            }
        }
        drop(shared);
        self.metrics.commit_latency.observe(started.elapsed());
        self.metrics.commits.fetch_add(1, Ordering::Relaxed);
        let batch_count = u64::try_from(batches.len()).unwrap_or(u64::MAX);
        self.metrics.batches.fetch_add(batch_count, Ordering::Relaxed);
        self.metrics.applied.fetch_add(counts.applied, Ordering::Relaxed);
        self.metrics.rejected.fetch_add(counts.rejected, Ordering::Relaxed);
        self.metrics.duplicates.fetch_add(counts.duplicates, Ordering::Relaxed);
        let mut durable: HashMap<u64, Option<Batch>> = HashMap::new();
        let mut items = Vec::with_capacity(group.len());
        for (submission, plan) in group.into_iter().zip(plans) {
            let reply = match plan {
                Plan::Conflict { key, index } => Reply::Conflict { key, index },
                Plan::Results { seq, slots } => {
                    self.answer(seq, &slots, first_seq, &batches, &mut durable)
                }
            };
            let _ = submission.reply.send(reply);
            items.push(submission.items);
        }
        let batches = if self.live.receiver_count() == 0 {
            // Nobody is streaming: the entries are freed off this thread, not sent.
            batches
        } else {
            let mut unsent = Vec::new();
            for batch in batches {
                if let Err(broadcast::error::SendError(batch)) = self.live.send(Arc::new(batch)) {
                    // The last receiver went away meanwhile.
                    unsent.push(batch);
                }
            }
            unsent.into_iter().filter_map(|batch| Arc::try_unwrap(batch).ok()).collect()
        };
        reclaim.free((batches, items, durable));
    }

    /// Resolves a submission's keys and applies its fresh commands, sealing its batch.
    ///
    /// # Errors
    /// The command the engine panicked on (the engine is then in an unknown state).
    fn plan(
        &self,
        engine: &mut Engine,
        building: &mut Building,
        items: &[Item],
    ) -> Result<Plan, Panicked> {
        let digests: Vec<Option<Hash32>> = items
            .iter()
            .map(|item| item.key.as_ref().map(|_| command_digest(&item.command)))
            .collect();
        if let Some((key, index)) = self.conflict(&building.pending, items, &digests) {
            return Ok(Plan::Conflict { key, index });
        }
        let seq = building.head.seq.saturating_add(1);
        let mut slots = Vec::with_capacity(items.len());
        let mut commands = Vec::new();
        let mut keys = Vec::new();
        let mut outcomes = Vec::new();
        for (position, (item, digest)) in items.iter().zip(digests).enumerate() {
            if let Some(key) = &item.key
                && let Some(used) = building.pending.get(key).or_else(|| self.keys.get(key))
            {
                slots.push(Slot::Duplicate(used.clone()));
                building.counts.duplicates = building.counts.duplicates.saturating_add(1);
                continue;
            }
            let result =
                catch_unwind(AssertUnwindSafe(|| engine.apply(&item.command))).map_err(|_| {
                    Panicked { index: position, command: item.command.name(), broken: None }
                })?;
            let outcome = Outcome::of(&result);
            let counter = match outcome {
                Outcome::Applied { .. } => &mut building.counts.applied,
                Outcome::Rejected { .. } => &mut building.counts.rejected,
            };
            *counter = counter.saturating_add(1);
            let index = u32::try_from(commands.len()).unwrap_or(u32::MAX);
            if let (Some(key), Some(command_digest)) = (&item.key, digest) {
                building.pending.insert(key.clone(), KeyUse { seq, index, command_digest });
            }
            slots.push(Slot::Fresh { seq, index });
            commands.push(item.command.clone());
            keys.push(item.key.clone());
            outcomes.push(outcome);
        }
        // The invariants are checked once per submission (the server runs the engine with
        // `InvariantChecks::Deferred`), before its batch is sealed; a violation, now or found
        // by a per-command check, halts the engine.
        if engine.verify_invariants().is_err() {
            let violation = engine.halted().map(ToString::to_string).unwrap_or_default();
            let last = items.len().saturating_sub(1);
            return Err(Panicked { index: last, command: "", broken: Some(violation) });
        }
        if commands.is_empty() {
            return Ok(Plan::Results { seq: None, slots });
        }
        let batch = Batch::seal(&building.head, commands, keys, outcomes, engine.state_hash());
        building.head = batch.head();
        building.batches.push(batch);
        Ok(Plan::Results { seq: Some(seq), slots })
    }

    /// The first idempotency key of a submission already used (before, in this group, or
    /// earlier in the submission itself) for a different command.
    fn conflict(
        &self,
        pending: &HashMap<String, KeyUse>,
        items: &[Item],
        digests: &[Option<Hash32>],
    ) -> Option<(String, usize)> {
        let mut own: HashMap<&str, Hash32> = HashMap::new();
        for (index, (item, digest)) in items.iter().zip(digests).enumerate() {
            let (Some(key), Some(digest)) = (&item.key, digest) else { continue };
            let earlier = pending
                .get(key)
                .or_else(|| self.keys.get(key))
                .map(|used| used.command_digest)
                .or_else(|| own.get(key.as_str()).copied());
            if earlier.is_some_and(|earlier| earlier != *digest) {
                return Some((key.clone(), index));
            }
            own.entry(key.as_str()).or_insert(*digest);
        }
        None
    }

    /// The answer to a submission whose commands are durable.
    fn answer(
        &mut self,
        seq: Option<u64>,
        slots: &[Slot],
        first_seq: u64,
        batches: &[Batch],
        durable: &mut HashMap<u64, Option<Batch>>,
    ) -> Reply {
        let mut results = Vec::with_capacity(slots.len());
        for slot in slots {
            let (at, index, duplicate) = match slot {
                Slot::Fresh { seq, index } => (*seq, *index, false),
                Slot::Duplicate(used) => (used.seq, used.index, true),
            };
            let outcome = match self.outcome_at(at, index, first_seq, batches, durable) {
                Ok(outcome) => outcome,
                Err(message) => return Reply::Unavailable(message),
            };
            results.push(CommandResult::new(at, index, duplicate, &outcome));
        }
        let seq = seq.or_else(|| results.iter().map(|result| result.seq).max()).unwrap_or(0);
        Reply::Written(BatchResponse { seq, results })
    }

    /// The outcome of command `index` of batch `seq`: from this group, or from the journal.
    fn outcome_at(
        &mut self,
        seq: u64,
        index: u32,
        first_seq: u64,
        batches: &[Batch],
        durable: &mut HashMap<u64, Option<Batch>>,
    ) -> Result<Outcome, String> {
        let position = usize::try_from(index).unwrap_or(usize::MAX);
        let missing = || format!("journal entry {seq} has no command {index}");
        if seq >= first_seq {
            let offset = usize::try_from(seq.saturating_sub(first_seq)).unwrap_or(usize::MAX);
            return batches
                .get(offset)
                .and_then(|batch| batch.outcomes.get(position))
                .cloned()
                .ok_or_else(missing);
        }
        let batch = match durable.entry(seq) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => entry.insert(
                self.ledger
                    .batch(seq)
                    .map_err(|error| format!("journal entry {seq} could not be read: {error}"))?,
            ),
        };
        batch.as_ref().and_then(|batch| batch.outcomes.get(position)).cloned().ok_or_else(missing)
    }

    /// Rebuilds the engine from the journal after a failed append, or marks the server
    /// unhealthy when that fails too.
    fn rebuild(&mut self, shared: &mut RwLockWriteGuard<'_, Shared>) {
        match self.ledger.recover() {
            Ok(mut recovered) => {
                shared.state_hash = recovered.engine.state_hash();
                recovered.engine.set_invariant_checks(backstop_core::InvariantChecks::Deferred);
                shared.engine = recovered.engine;
                shared.head = recovered.head;
                self.keys = recovered.keys.into_iter().collect();
                eprintln!(
                    "backstop-server: engine rebuilt from the journal at seq {}",
                    recovered.head.seq
                );
            }
            Err(error) => {
                self.healthy.store(false, Ordering::SeqCst);
                eprintln!(
                    "backstop-server: the engine could not be rebuilt ({error}); unhealthy until \
                     restarted"
                );
            }
        }
    }

    /// Writes a snapshot of the engine at the head (a failure is logged, not fatal: the
    /// journal alone rebuilds the engine).
    fn snapshot(&mut self, shared: &mut RwLockWriteGuard<'_, Shared>) {
        match self.ledger.write_snapshot(shared.head.seq, &shared.engine) {
            Ok(()) => {
                self.metrics.snapshots.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                eprintln!("backstop-server: snapshot at seq {} failed: {error}", shared.head.seq);
            }
        }
    }
}

/// What a group commit leaves behind once answered: its journal entries (unless a live stream
/// holds them), the submitted commands and any entries read back for duplicates.
type Garbage = (Vec<Batch>, Vec<Vec<Item>>, HashMap<u64, Option<Batch>>);

/// Frees what a group commit leaves behind on a thread of its own: freeing a group of a
/// thousand entries' commands, keys and outcomes costs the writer as much as a few percent of
/// its time, and the writer's CPU is the service's bottleneck.
struct Reclaim {
    /// The reclaiming thread's queue; none when the thread could not be started (the writer
    /// then frees in place).
    queue: Option<std::sync::mpsc::SyncSender<Garbage>>,
}

impl Reclaim {
    /// Groups that may wait to be freed before the writer waits for the reclaiming thread.
    const BACKLOG: usize = 64;

    /// Starts the reclaiming thread; it ends when the writer drops this.
    fn start() -> Reclaim {
        let (queue, garbage) = std::sync::mpsc::sync_channel::<Garbage>(Self::BACKLOG);
        let started = std::thread::Builder::new()
            .name("backstop-reclaim".to_owned())
            .spawn(move || garbage.into_iter().for_each(drop));
        Reclaim { queue: started.ok().map(|_| queue) }
    }

    /// Hands a group's leftovers to the reclaiming thread (or frees them here without one).
    fn free(&self, garbage: Garbage) {
        if let Some(queue) = &self.queue {
            // A failed send returns the garbage, which is then freed here.
            let _ = queue.send(garbage);
        }
    }
}

/// Marks the server unhealthy if the writer thread unwinds.
struct UnhealthyOnPanic(Arc<AtomicBool>);

impl Drop for UnhealthyOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(false, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Item, Message, Reply, Shared, Submission, Writer, WriterSettings};
    use crate::metrics::Metrics;
    use backstop_core::{AccountId, AccountKind, Command};
    use backstop_ledger::Ledger;
    use std::sync::atomic::AtomicBool;
    use std::sync::{Arc, RwLock};
    use std::time::Duration;
    use tokio::sync::{broadcast, mpsc, oneshot};

    const VENUE: &str = include_str!("../../../examples/venue.toml");

    fn open(account: u64) -> Item {
        Item {
            command: Command::OpenAccount {
                account: AccountId(account),
                kind: AccountKind::Regular,
            },
            key: None,
        }
    }

    /// A writer over a fresh SQLite journal whose first command opened account 1.
    fn writer(db: &str) -> (Writer, Arc<RwLock<Shared>>) {
        let mut ledger = Ledger::open(db).expect("journal opens");
        ledger.initialize(VENUE).expect("genesis");
        let mut recovered = ledger.recover().expect("recovers");
        let state_hash = recovered.engine.state_hash();
        recovered.engine.set_invariant_checks(backstop_core::InvariantChecks::Deferred);
        let shared = Arc::new(RwLock::new(Shared {
            engine: recovered.engine,
            head: recovered.head,
            state_hash,
            halted: None,
        }));
        let writer = Writer {
            ledger,
            shared: Arc::clone(&shared),
            keys: recovered.keys.into_iter().collect(),
            live: broadcast::channel(16).0,
            metrics: Arc::new(Metrics::default()),
            healthy: Arc::new(AtomicBool::new(true)),
            settings: WriterSettings {
                max_group_commands: 64,
                snapshot_every: 0,
                commit_delay: Duration::ZERO,
            },
        };
        (writer, shared)
    }

    /// Submits each list of items in one group and runs the writer until the queue is empty.
    fn submit(writer: Writer, groups: Vec<Vec<Item>>) -> Vec<Reply> {
        let (queue, receiver) = mpsc::channel(16);
        let mut answers = Vec::new();
        for items in groups {
            let (reply, answer) = oneshot::channel();
            queue.try_send(Message::Submit(Submission { items, reply })).expect("queued");
            answers.push(answer);
        }
        queue.try_send(Message::Stop).expect("queued");
        writer.run(receiver);
        answers.into_iter().map(|answer| answer.blocking_recv().expect("answered")).collect()
    }

    #[test]
    fn a_broken_invariant_stops_writes_and_journals_nothing() {
        let dir = std::env::temp_dir().join(format!("backstop-halt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let db = dir.join("journal.db").display().to_string();
        let (first, _) = writer(&db);
        let replies = submit(first, vec![vec![open(1)]]);
        assert!(matches!(replies[0], Reply::Written(_)), "{replies:?}");
        // Reopen (the first writer's lock is gone with it), then corrupt the engine in memory.
        let (writer, shared) = writer(&db);
        shared.write().expect("lock").engine.inject_conservation_fault();
        let replies = submit(writer, vec![vec![open(2)], vec![open(3)]]);
        // The command that found the broken state, and everything after it, is refused with the
        // halt; nothing reached the journal, and the engine was rebuilt from it.
        for reply in &replies {
            let Reply::Halted(message) = reply else { panic!("expected a halt: {replies:?}") };
            assert!(message.contains("broke engine invariant I1"), "{message}");
        }
        let shared = shared.read().expect("lock");
        assert!(shared.halted.is_some());
        assert_eq!(shared.head.seq, 1, "nothing journaled after the halt");
        assert!(shared.engine.halted().is_none(), "rebuilt from the journal");
        assert!(!shared.engine.state().accounts.contains_key(&AccountId(2)));
        let mut reader = Ledger::open(&db).expect("journal opens");
        assert_eq!(reader.recover().expect("recovers").head.seq, 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
