//! Scalar arithmetic of the batch equation without a modular reduction per
//! signature: the products `zᵢ·sᵢ` and `zᵢ·kᵢ` (128 × 253 bits) are summed
//! as plain integers in a 512-bit accumulator and reduced modulo ℓ once per
//! sum, and `s < ℓ` is checked by comparing limbs.

use curve25519_dalek::scalar::Scalar;

/// ℓ = 2^252 + 27742317777372353535851937790883648493, as little-endian
/// 64-bit limbs.
const GROUP_ORDER: [u64; 4] = [
    0x5812_631a_5cf5_d3ed,
    0x14de_f9de_a2f7_9cd6,
    0,
    0x1000_0000_0000_0000,
];

/// The little-endian 64-bit limbs of 32 bytes.
pub(super) fn limbs(bytes: &[u8; 32]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (limb, word) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut le = [0u8; 8];
        le.copy_from_slice(word);
        *limb = u64::from_le_bytes(le);
    }
    out
}

fn bytes_of(limbs: &[u64]) -> impl Iterator<Item = u8> + '_ {
    limbs.iter().flat_map(|limb| limb.to_le_bytes())
}

/// True if the integer is below ℓ (the signature's `s` is canonical).
pub(super) fn is_canonical(value: &[u64; 4]) -> bool {
    for (v, l) in value.iter().rev().zip(GROUP_ORDER.iter().rev()) {
        if v != l {
            return v < l;
        }
    }
    false
}

/// A canonical integer (below ℓ) as a scalar.
pub(super) fn scalar(value: &[u64; 4]) -> Scalar {
    let mut bytes = [0u8; 32];
    for (byte, b) in bytes.iter_mut().zip(bytes_of(value)) {
        *byte = b;
    }
    // The value is below ℓ, so the reduction leaves it as it is.
    Scalar::from_bytes_mod_order(bytes)
}

/// A sum of products `x·m` (x < 2^256, m < 2^128) as a 512-bit integer.
/// It cannot overflow for fewer than 2^128 terms, far beyond any batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct WideSum([u64; 8]);

impl WideSum {
    /// Adds `x·m`.
    #[inline]
    pub(super) fn add_product(&mut self, x: &[u64; 4], m: u128) {
        self.add_row(x, m as u64, 0);
        let high = (m >> 64) as u64;
        if high != 0 {
            self.add_row(x, high, 1);
        }
    }

    /// Adds `x·m·2^(64·offset)`.
    #[inline]
    fn add_row(&mut self, x: &[u64; 4], m: u64, offset: usize) {
        let (_, window) = self.0.split_at_mut(offset);
        let (low, high) = window.split_at_mut(4.min(window.len()));
        let mut carry = 0u128;
        for (limb, &xi) in low.iter_mut().zip(x) {
            // ≤ (2^64 − 1) + (2^64 − 1)² + (2^64 − 1) = 2^128 − 1: no overflow.
            let t = u128::from(*limb) + u128::from(xi) * u128::from(m) + carry;
            *limb = t as u64;
            carry = t >> 64;
        }
        for limb in high {
            if carry == 0 {
                break;
            }
            let t = u128::from(*limb) + carry;
            *limb = t as u64;
            carry = t >> 64;
        }
        // A carry out of the top limb would need a sum ≥ 2^512, i.e. more
        // than 2^128 terms (each below 2^384).
    }

    /// The sum modulo ℓ.
    pub(super) fn reduce(&self) -> Scalar {
        let mut bytes = [0u8; 64];
        for (byte, b) in bytes.iter_mut().zip(bytes_of(&self.0)) {
            *byte = b;
        }
        Scalar::from_bytes_mod_order_wide(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_bytes(seed: u64, n: u64) -> [u8; 32] {
        *blake3::hash(&[seed.to_le_bytes(), n.to_le_bytes()].concat()).as_bytes()
    }

    #[test]
    fn group_order_limbs_are_ell() {
        let mut ell_minus_one = (-Scalar::ONE).to_bytes();
        assert!(is_canonical(&limbs(&ell_minus_one)));
        // ℓ − 1 + 1 = ℓ, the smallest non-canonical value.
        ell_minus_one[0] += 1;
        assert_eq!(limbs(&ell_minus_one), GROUP_ORDER);
        assert!(!is_canonical(&GROUP_ORDER));
        assert!(!is_canonical(&[u64::MAX; 4]));
        assert!(is_canonical(&[0; 4]));
    }

    #[test]
    fn canonical_check_agrees_with_dalek() {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        println!("seed {seed}");
        for n in 0..2000u64 {
            let mut bytes = random_bytes(seed, n);
            // Bring most values near ℓ so both outcomes occur.
            bytes[31] = [0x0f, 0x10, 0x10, 0x11, 0x00][(n % 5) as usize];
            if n % 7 == 0 {
                bytes[16..31].fill(0);
            }
            let dalek = bool::from(Scalar::from_canonical_bytes(bytes).is_some());
            assert_eq!(is_canonical(&limbs(&bytes)), dalek, "seed {seed} n {n}");
            if dalek {
                assert_eq!(scalar(&limbs(&bytes)).to_bytes(), bytes);
            }
        }
    }

    #[test]
    fn wide_sum_agrees_with_scalar_arithmetic() {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        println!("seed {seed}");
        for terms in [0u64, 1, 2, 3, 17, 1000] {
            let mut sum = WideSum::default();
            let mut expected = Scalar::ZERO;
            for n in 0..terms {
                let x = random_bytes(seed, 2 * n + terms * 10_000);
                let m_bytes = random_bytes(seed, 2 * n + 1 + terms * 10_000);
                let mut m = u128::from_le_bytes(m_bytes[..16].try_into().unwrap());
                if n % 3 == 0 {
                    m >>= 64; // one-limb multipliers take the short path
                }
                if n % 11 == 0 {
                    m = u128::MAX;
                }
                let x = if n % 5 == 0 { [0xff; 32] } else { x };
                sum.add_product(&limbs(&x), m);
                expected += Scalar::from_bytes_mod_order(x) * Scalar::from(m);
            }
            assert_eq!(sum.reduce(), expected, "seed {seed} terms {terms}");
        }
    }
}
