//! The verification stage alone on the same transactions: the yardstick of
//! the end-to-end rate.

use std::time::Instant;

use ledger_core::verify::SignatureVerifier;
use ledger_core::Block;

/// Signatures per second of the verification stage alone, keys cached, on
/// the same transactions.
pub fn pure_verification_rate(blocks: &[Block]) -> Result<f64, String> {
    let verifier = SignatureVerifier::default();
    if let Some(first) = blocks.first() {
        verifier
            .verify_transactions(first.transactions())
            .map_err(|e| e.to_string())?;
    }
    let start = Instant::now();
    let mut signatures = 0usize;
    for block in blocks {
        verifier
            .verify_transactions(block.transactions())
            .map_err(|e| e.to_string())?;
        signatures += block.transactions().len();
    }
    Ok(signatures as f64 / start.elapsed().as_secs_f64())
}

/// Signatures per second of the verification stage on the same
/// transactions with `share` of each block's signatures corrupted: the stage
/// must name exactly those (what a node pays to screen bad transactions).
pub fn screening_rate(blocks: &[Block], share: f64) -> Result<f64, String> {
    let verifier = SignatureVerifier::default();
    let mut prepared = Vec::with_capacity(blocks.len());
    for block in blocks {
        let mut txs = block.transactions().to_vec();
        let count = (share * txs.len() as f64).round() as usize;
        let step = txs.len().checked_div(count).unwrap_or(usize::MAX);
        let mut corrupted = Vec::with_capacity(count);
        for index in (0..txs.len()).step_by(step.max(1)).take(count) {
            let tx = &mut txs[index];
            let mut signature = *tx.signature();
            signature.0[0] ^= 1;
            *tx = tx.clone().with_signature(signature);
            corrupted.push(index as u32);
        }
        prepared.push((txs, corrupted));
    }
    let start = Instant::now();
    let mut signatures = 0usize;
    for (txs, corrupted) in &prepared {
        let named = match verifier.verify_transactions(txs) {
            Ok(()) => Vec::new(),
            Err(ledger_core::VerifyError::InvalidSignatures { indices }) => indices,
            Err(other) => return Err(other.to_string()),
        };
        if &named != corrupted {
            return Err(format!(
                "verification named {} invalid signatures, {} were corrupted",
                named.len(),
                corrupted.len()
            ));
        }
        signatures += txs.len();
    }
    Ok(signatures as f64 / start.elapsed().as_secs_f64())
}
