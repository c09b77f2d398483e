//! Backstop's durable journal: command batches in a hash chain, snapshots and verified replay.
