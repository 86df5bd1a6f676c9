//! The `Store` trait and the columns of the ledger. Not yet built: see issue 5.
