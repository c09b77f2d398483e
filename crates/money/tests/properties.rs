//! Property tests for money: filled in by the money test sweep.
