//! Conformance suites: one per port, run by every backend's tests against a fresh instance.
//!
//! A suite is a set of async functions taking the port under test; each panics with a
//! message naming the broken promise.

pub mod catalog;
pub mod inbox;
pub mod queue;
pub mod rate;
pub mod records;
