//! Integration tests of the Alibaba Cloud SMS channel against its simulator.

mod client;
mod receipts;
mod simulator;
mod support;
