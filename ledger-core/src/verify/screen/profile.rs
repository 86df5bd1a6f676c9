use std::cell::RefCell;

use curve25519_dalek::edwards::EdwardsPoint;

pub(super) enum Op {
    T0(Vec<u32>),
    T1(Vec<u32>),
    Decode(Vec<u32>, Box<(EdwardsPoint, EdwardsPoint)>),
    Check(u32),
    Certify(Vec<u32>),
    Bisect(Vec<u32>),
}

thread_local! {
    static LOG: RefCell<Option<Vec<Op>>> = const { RefCell::new(None) };
}

pub(super) fn record(op: Op) {
    LOG.with(|log| {
        if let Some(log) = log.borrow_mut().as_mut() {
            log.push(op);
        }
    });
}

/// The operations `f` performs on this thread.
pub(super) fn recorded(f: impl FnOnce()) -> Vec<Op> {
    LOG.with(|log| *log.borrow_mut() = Some(Vec::new()));
    f();
    LOG.with(|log| log.borrow_mut().take().unwrap_or_default())
}
