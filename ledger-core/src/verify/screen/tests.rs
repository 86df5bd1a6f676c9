use super::*;
use crate::hash::{hash, Domain, Hash};
use crate::types::{PublicKey, Signature};
use crate::verify::key_cache::KeyCache;
use crate::verify::SignatureItem;
use ed25519_dalek::{Signer, SigningKey};

/// 60 signatures by 4 keys (15 each, adjacent), the ones at `bad`
/// corrupted in turn: a bit of `s`, the `R` of another signature,
/// another message.
fn signed(bad: &[usize]) -> Vec<(PublicKey, Signature, Hash)> {
    let keys: Vec<SigningKey> = (0..4u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect();
    let mut cases: Vec<(PublicKey, Signature, Hash)> = (0..60u32)
        .map(|i| {
            let key = &keys[i as usize / 15];
            let message = hash(Domain::TransactionSigning, &i.to_le_bytes());
            (
                PublicKey::from_signing_key(key),
                Signature(key.sign(message.as_bytes()).to_bytes()),
                message,
            )
        })
        .collect();
    for (n, &i) in bad.iter().enumerate() {
        match n % 3 {
            0 => cases[i].1 .0[40] ^= 1,
            1 => {
                let other = cases[(i + 1) % 60].1 .0;
                cases[i].1 .0[..32].copy_from_slice(&other[..32]);
            }
            _ => cases[i].2 = hash(Domain::TransactionSigning, b"another"),
        }
    }
    cases
}

fn parse(cases: &[(PublicKey, Signature, Hash)]) -> (ParsedChunk, Coefficients) {
    let items: Vec<SignatureItem<'_>> = cases
        .iter()
        .map(|(public_key, signature, message)| SignatureItem {
            public_key,
            signature,
            message: *message,
        })
        .collect();
    let positions: Vec<u32> = (0..cases.len() as u32).collect();
    let mut rejected = Vec::new();
    let chunk = ParsedChunk::parse(&items, &positions, &KeyCache::new(64), &mut rejected);
    assert!(rejected.is_empty());
    let coefficients = Coefficients::derive(&items, &chunk);
    (chunk, coefficients)
}

fn all(chunk: &ParsedChunk) -> Vec<u32> {
    (0..chunk.len() as u32).collect()
}

#[test]
fn combination_is_the_sum_of_the_single_equations() {
    let (chunk, coefficients) = parse(&signed(&[3, 17, 25, 26]));
    let z = &coefficients.z;
    let q = combination(&chunk, &all(&chunk), |i| z[i]);
    let mut direct = EdwardsPoint::identity();
    for i in 0..chunk.len() {
        let term = error_point(&chunk, i) * Scalar::from(z[i]);
        assert_eq!(
            combination(&chunk, &[i as u32], |j| z[j]),
            term,
            "signature {i}"
        );
        direct += term;
    }
    assert_eq!(q, direct);
    assert!(fails(&q));
}

#[test]
fn every_path_names_exactly_the_invalid_signatures() {
    for bad in [vec![0], vec![59], vec![3, 17, 25, 26], (10..40).collect()] {
        let (chunk, coefficients) = parse(&signed(&bad));
        let z = coefficients.z.clone();
        let q = combination(&chunk, &all(&chunk), |i| z[i]);
        let expected: Vec<u32> = bad.iter().map(|&i| i as u32).collect();
        // No location round: bisection alone; one round; the default.
        for rounds in [0, 1, LOCATE_ROUNDS] {
            let mut coefficients = parse(&signed(&bad)).1;
            assert_eq!(
                find_invalid_in_rounds(&chunk, &mut coefficients, q, rounds),
                expected,
                "rounds {rounds}"
            );
        }
    }
}

#[test]
fn decode_finds_a_lone_invalid_signature_and_only_then() {
    let (chunk, mut coefficients) = parse(&signed(&[20, 41]));
    let round = Round::new(&chunk, &mut coefficients.stream);
    // A group with one invalid signature, at place 5.
    let group: Vec<u32> = (15..45).collect();
    let lone: Vec<u32> = (15..40).collect();
    let t0 = round.t0(&lone);
    assert!(fails(&t0));
    assert_eq!(round.decode(&lone, &t0, &round.t1(&lone)), Some(5));
    // Two invalid signatures: the scan may not claim either.
    let t0 = round.t0(&group);
    let decoded = round.decode(&group, &t0, &round.t1(&group));
    assert!(decoded.is_none(), "decoded {decoded:?}");
    // A valid group passes.
    assert!(!fails(&round.t0(&(0..15).collect::<Vec<u32>>())));
}

#[test]
fn small_multiple_is_scalar_multiplication() {
    let point = curve25519_dalek::constants::ED25519_BASEPOINT_POINT * Scalar::from(77u8);
    for m in 0..=u8::MAX {
        assert_eq!(small_multiple(&point, m), point * Scalar::from(m));
    }
}

#[test]
fn without_removes_the_given_members() {
    assert_eq!(without(&[1, 3, 5, 7, 9], &[0, 3, 4, 9, 12]), vec![1, 5, 7]);
    assert_eq!(without(&[1, 2], &[]), vec![1, 2]);
    assert_eq!(without(&[], &[1]), Vec::<u32>::new());
}
