//! Reference applications of the ledger engine. Each implements
//! [`ledger_core::machine::StateMachine`] and knows nothing of the engine's
//! internals or of storage:
//!
//! * [`transfers`]: accounts with balances and transfers; the benchmark
//!   workload.

pub mod transfers;
