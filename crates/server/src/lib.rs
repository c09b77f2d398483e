//! Backstop as a service: one writer owns the engine behind an authenticated HTTP JSON API.
