//! The `add-checkpoint` request body of c2sp.org/tlog-witness: an old size
//! line, zero to 63 consistency proof lines (base64 hashes), an empty line,
//! then the signed checkpoint note. Parsed strictly; the note is kept as
//! bytes for the note parser.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::consistency::TreeHash;
use crate::MAX_PROOF_HASHES;

/// A parsed `add-checkpoint` request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpointRequest {
    /// The size of the checkpoint the client believes the witness co-signed
    /// last.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<TreeHash>,
    /// The signed checkpoint note, as sent.
    pub note: Vec<u8>,
}

/// Why a request body is malformed (answered with 400 Bad Request).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body does not start with an `old <size>` line.
    #[error("missing or malformed old size line")]
    OldSizeLine,
    /// A consistency proof line is not the base64 of 32 bytes.
    #[error("proof line {0} is not the base64 of a 32-byte hash")]
    ProofLine(usize),
    /// More than [`MAX_PROOF_HASHES`] proof lines.
    #[error("more than {MAX_PROOF_HASHES} consistency proof lines")]
    TooManyProofLines,
    /// No empty line ends the proof.
    #[error("no empty line before the checkpoint")]
    Unterminated,
}

/// Parses a decimal u64 with no leading zeros (`0` alone for zero).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

impl AddCheckpointRequest {
    /// Parses a request body.
    ///
    /// # Errors
    /// The first rule the body breaks.
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        let (first, mut rest) = split_line(body).ok_or(RequestError::OldSizeLine)?;
        let old_size = std::str::from_utf8(first)
            .ok()
            .and_then(|line| line.strip_prefix("old "))
            .and_then(parse_decimal)
            .ok_or(RequestError::OldSizeLine)?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = split_line(rest).ok_or(RequestError::Unterminated)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(RequestError::TooManyProofLines);
            }
            proof.push(decode_hash(line).ok_or(RequestError::ProofLine(proof.len()))?);
        }
        Ok(Self {
            old_size,
            proof,
            note: rest.to_vec(),
        })
    }

    /// The request body: the inverse of [`AddCheckpointRequest::parse`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size).into_bytes();
        for hash in &self.proof {
            out.extend_from_slice(BASE64.encode(hash).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.note);
        out
    }
}

/// The line before the first newline and what follows it; `None` without
/// a newline.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == b'\n')?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

fn decode_hash(line: &[u8]) -> Option<TreeHash> {
    // 32 bytes are 44 base64 characters; anything longer is refused before
    // decoding.
    if line.len() != 44 {
        return None;
    }
    BASE64.decode(line).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: &[u8] = b"example.com/x\n3\nAAAA\n\n\xe2\x80\x94 sig\n";

    #[test]
    fn round_trip() {
        let request = AddCheckpointRequest {
            old_size: 20852014,
            proof: vec![[7; 32], [0xff; 32]],
            note: NOTE.to_vec(),
        };
        let body = request.encode();
        assert!(body.starts_with(b"old 20852014\nBwcH"));
        assert_eq!(AddCheckpointRequest::parse(&body), Ok(request));
        let empty = AddCheckpointRequest::parse(b"old 0\n\nnote").unwrap();
        assert_eq!((empty.old_size, empty.proof.len()), (0, 0));
        assert_eq!(empty.note, b"note");
    }

    #[test]
    fn malformed_bodies() {
        let hash = BASE64.encode([1u8; 32]);
        let cases: Vec<(Vec<u8>, RequestError)> = vec![
            (b"".to_vec(), RequestError::OldSizeLine),
            (b"old 1".to_vec(), RequestError::OldSizeLine),
            (b"old 01\n\n".to_vec(), RequestError::OldSizeLine),
            (b"old -1\n\n".to_vec(), RequestError::OldSizeLine),
            (b"old  1\n\n".to_vec(), RequestError::OldSizeLine),
            (b"old 1 \n\n".to_vec(), RequestError::OldSizeLine),
            (b"Old 1\n\n".to_vec(), RequestError::OldSizeLine),
            (
                b"old 18446744073709551616\n\n".to_vec(),
                RequestError::OldSizeLine,
            ),
            (b"old 1\n".to_vec(), RequestError::Unterminated),
            (
                format!("old 1\n{hash}\n").into_bytes(),
                RequestError::Unterminated,
            ),
            (
                format!("old 1\n{hash}=\n\n").into_bytes(),
                RequestError::ProofLine(0),
            ),
            (
                format!("old 1\n{hash}\nAAAA\n\n").into_bytes(),
                RequestError::ProofLine(1),
            ),
            (
                format!("old 1\n{hash}\r\n\n").into_bytes(),
                RequestError::ProofLine(0),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(
                AddCheckpointRequest::parse(&body),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(&body)
            );
        }
        let lines = |n: usize| {
            let mut body = b"old 1\n".to_vec();
            for _ in 0..n {
                body.extend_from_slice(format!("{hash}\n").as_bytes());
            }
            body.extend_from_slice(b"\nnote");
            body
        };
        assert_eq!(
            AddCheckpointRequest::parse(&lines(MAX_PROOF_HASHES))
                .unwrap()
                .proof
                .len(),
            63
        );
        assert_eq!(
            AddCheckpointRequest::parse(&lines(MAX_PROOF_HASHES + 1)),
            Err(RequestError::TooManyProofLines)
        );
    }
}
