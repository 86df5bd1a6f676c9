//! Shared helpers of the applications' execution tests: committed state as
//! a plain map from tree position to value, and one transaction executed in
//! a block of its own against it.

#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "each test binary uses part of this; a panic in a test is a failing test"
)]

use std::collections::HashMap;

use bytes::Bytes;
use ledger_core::machine::Receipt;
use ledger_core::state_tree::StateTreeError;
use ledger_core::{
    application_position, execute_transactions, BlockContext, ExecutedBlock, InvalidTransactions,
    StateMachine, StateRead, StateValue,
};
use ledger_core::{Hash, Transaction};

/// Committed state as a plain map from position to value.
#[derive(Default)]
pub struct MapState(pub HashMap<Hash, StateValue>);

impl StateRead for MapState {
    fn read(&self, position: &Hash) -> Result<Option<StateValue>, StateTreeError> {
        Ok(self.0.get(position).cloned())
    }
}

impl MapState {
    /// The value an application stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.0
            .get(&application_position(key))
            .map(StateValue::to_bytes)
    }

    /// Commits what a block wrote.
    pub fn apply(&mut self, executed: &ExecutedBlock) {
        for update in &executed.updates {
            match &update.value {
                Some(value) => self.0.insert(update.position, value.clone()),
                None => self.0.remove(&update.position),
            };
        }
    }

    /// Executes `tx` alone in a block with `context` (signatures taken as
    /// checked), commits its writes, and returns its id and receipt.
    pub fn execute_one<M: StateMachine + ?Sized>(
        &mut self,
        app: &M,
        context: BlockContext,
        tx: Transaction,
    ) -> (Hash, Receipt) {
        let id = tx.id();
        let executed = execute_transactions(
            app,
            &*self,
            context,
            &[tx],
            &[id],
            InvalidTransactions::Refuse,
        )
        .unwrap();
        self.apply(&executed);
        let receipt = executed.receipts.into_iter().next().unwrap();
        (id, receipt)
    }
}
