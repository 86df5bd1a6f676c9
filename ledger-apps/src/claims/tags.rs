//! `claims::tags`: making blinded tags off the ledger, with a verifiable
//! oblivious PRF (RFC 9497, VOPRF mode, ciphersuite ristretto255-SHA512,
//! through the `voprf` crate). Used by clinics, distributors and tag
//! issuers, by the example, the benchmark's generator and the tests; the
//! [`super::Claims`] state machine never calls it (feature `tags`, off by
//! default).
//!
//! The protocol, for one tag:
//!
//! 1. The clinic builds the input from what it knows —
//!    [`TagInput::claim_event`] (patient identifier, event) or
//!    [`TagInput::allocation`] (programme, resident identifier, period) —
//!    and blinds it: [`BlindedTag::new`] gives the state it keeps and the
//!    [`TagRequest`] (a random-looking ristretto255 point) it sends.
//! 2. The issuer evaluates the request with its key ([`TagIssuer::evaluate`],
//!    or [`TagIssuer::evaluate_batch`] for many under one proof) and returns
//!    the evaluated point with a DLEQ proof that it used the key whose
//!    public half ([`TagIssuer::public_key`], an [`IssuerKey`]) the
//!    registrar admitted. It learns nothing of the input.
//! 3. The clinic checks the proof against that public key and unblinds:
//!    [`BlindedTag::finalize`] (or [`finalize_batch`]) gives the 64-byte
//!    [`Tag`], `SHA-512` over the input and the unblinded point. A response
//!    made with another key, or tampered with, fails
//!    ([`TagError::ProofFailed`]) instead of giving a tag.
//!
//! The tag depends only on the issuer's key and the input, never on the
//! blinding, so the same patient and event give the same tag at every
//! clinic, and [`TagIssuer::tag_of`] (the issuer evaluating an input it is
//! shown directly, as an auditor holding the input may ask it to) gives the
//! same bytes.
//!
//! **Inputs.** Each part is length-prefixed (u16, big-endian as in RFC 9497)
//! after a domain label, so that `("ab", "c")` and `("a", "bc")` give
//! different inputs and claim tags never equal allocation tags. Identifiers
//! and event descriptions are 1 to [`MAX_INPUT_PART_BYTES`] bytes. Whatever
//! normalisation makes two clinics spell a patient and an event the same
//! way (a national identifier, an ISO date and a condition code) is the
//! deployment's; tags match only on exactly equal inputs.
//!
//! **Randomness.** Blinding and proofs take any `rand_core` 0.10
//! [`CryptoRng`] (the workspace's); the `voprf` crate speaks `rand_core`
//! 0.9, so a private adapter forwards one to the other.

use ledger_core::Hash;
use rand_core::CryptoRng;
use voprf::{
    BlindedElement, EvaluationElement, Group, Proof, Ristretto255, VoprfClient, VoprfServer,
};

use super::{IssuerKey, Tag, TAG_BYTES};

/// The RFC 9497 ciphersuite of every tag.
pub const CIPHERSUITE: &str = "ristretto255-SHA512";
/// Bytes of a blinded request (a compressed ristretto255 point).
pub const REQUEST_BYTES: usize = 32;
/// Bytes of an evaluated element (a compressed ristretto255 point).
pub const EVALUATION_BYTES: usize = 32;
/// Bytes of a DLEQ proof (two ristretto255 scalars).
pub const PROOF_BYTES: usize = 64;
/// Longest identifier, event description or resident identifier in a tag
/// input (RFC 9497 allows inputs up to 65,535 bytes in all).
pub const MAX_INPUT_PART_BYTES: usize = 1024;
/// Most requests one batch evaluation serves (RFC 9497's batch limit is
/// 65,535; a batch's proof is one proof over all of them).
pub const MAX_BATCH: usize = 4096;

const CLAIM_EVENT_LABEL: &[u8] = b"ledger claims v1: claim event";
const ALLOCATION_LABEL: &[u8] = b"ledger claims v1: allocation";
/// The `info` of RFC 9497's `DeriveKeyPair` for issuer keys from a seed.
const KEY_INFO: &[u8] = b"ledger claims v1: tag issuer";

/// Why a tag could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TagError {
    /// An input part is empty.
    #[error("{field} is empty")]
    EmptyPart {
        /// The part.
        field: &'static str,
    },
    /// An input part is longer than [`MAX_INPUT_PART_BYTES`].
    #[error("{field} is {len} bytes, over the limit of {max}")]
    PartTooLong {
        /// The part.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The issuer key is not a valid ristretto255 point (or the identity).
    #[error("the issuer key is not a valid ristretto255 point")]
    InvalidIssuerKey,
    /// A request is not a valid ristretto255 point (or the identity).
    #[error("the blinded request is not a valid ristretto255 point")]
    InvalidRequest,
    /// An evaluation or proof does not parse.
    #[error("the issuer's response does not parse")]
    InvalidResponse,
    /// The issuer's proof does not verify under the issuer key: the
    /// response was not made with that key, or was changed.
    #[error("the issuer's proof does not verify under its published key")]
    ProofFailed,
    /// A batch is empty, over [`MAX_BATCH`], or its parts differ in length.
    #[error("a batch of {len} requests, {responses} responses (1 to {max} of each, as many)")]
    Batch {
        /// Requests or blinded tags.
        len: usize,
        /// Responses.
        responses: usize,
        /// The limit.
        max: usize,
    },
    /// Any other failure of the VOPRF library (a random source that failed).
    #[error("VOPRF: {0}")]
    Voprf(voprf::Error),
}

/// A tag's input: a domain label and length-prefixed parts.
#[derive(Clone, PartialEq, Eq)]
pub struct TagInput(Vec<u8>);

impl std::fmt::Debug for TagInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // An input holds an identifier: never print it.
        write!(f, "TagInput({} bytes)", self.0.len())
    }
}

fn put_part(out: &mut Vec<u8>, field: &'static str, part: &[u8]) -> Result<(), TagError> {
    if part.is_empty() {
        return Err(TagError::EmptyPart { field });
    }
    let too_long = || TagError::PartTooLong {
        field,
        len: part.len(),
        max: MAX_INPUT_PART_BYTES,
    };
    if part.len() > MAX_INPUT_PART_BYTES {
        return Err(too_long());
    }
    out.extend_from_slice(
        &u16::try_from(part.len())
            .map_err(|_| too_long())?
            .to_be_bytes(),
    );
    out.extend_from_slice(part);
    Ok(())
}

impl TagInput {
    /// The input of a claim event: a patient's identifier and the event
    /// (for instance an ISO date and a condition code).
    pub fn claim_event(patient: &[u8], event: &[u8]) -> Result<TagInput, TagError> {
        let mut out = Vec::with_capacity(CLAIM_EVENT_LABEL.len() + 4 + patient.len() + event.len());
        out.extend_from_slice(CLAIM_EVENT_LABEL);
        put_part(&mut out, "patient", patient)?;
        put_part(&mut out, "event", event)?;
        Ok(TagInput(out))
    }

    /// The input of an allocation: the programme, a resident's identifier
    /// and the period.
    pub fn allocation(
        programme: &Hash,
        resident: &[u8],
        period: u32,
    ) -> Result<TagInput, TagError> {
        let mut out = Vec::with_capacity(ALLOCATION_LABEL.len() + 32 + 2 + resident.len() + 4);
        out.extend_from_slice(ALLOCATION_LABEL);
        out.extend_from_slice(programme.as_bytes());
        put_part(&mut out, "resident", resident)?;
        out.extend_from_slice(&period.to_be_bytes());
        Ok(TagInput(out))
    }

    /// The bytes the VOPRF evaluates.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// What a clinic sends the issuer: the blinded input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagRequest(pub [u8; REQUEST_BYTES]);

/// What the issuer returns for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagResponse {
    /// The evaluated element.
    pub evaluation: [u8; EVALUATION_BYTES],
    /// The DLEQ proof that it was evaluated with the issuer's key.
    pub proof: [u8; PROOF_BYTES],
}

/// What the issuer returns for a batch: one evaluation per request, in
/// order, and one proof over all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchResponse {
    /// The evaluated elements.
    pub evaluations: Vec<[u8; EVALUATION_BYTES]>,
    /// The DLEQ proof over the batch.
    pub proof: [u8; PROOF_BYTES],
}

/// A `rand_core` 0.10 generator seen as a `rand_core` 0.9 one (what the
/// `voprf` crate takes): every call forwarded.
struct Rng09<'a, R: ?Sized>(&'a mut R);

impl<R: CryptoRng + ?Sized> rand_core_09::RngCore for Rng09<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst);
    }
}

impl<R: CryptoRng + ?Sized> rand_core_09::CryptoRng for Rng09<'_, R> {}

fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], TagError> {
    bytes.try_into().map_err(|_| TagError::InvalidResponse)
}

fn issuer_point(issuer: &IssuerKey) -> Result<<Ristretto255 as Group>::Elem, TagError> {
    Ristretto255::deserialize_elem(&issuer.0).map_err(|_| TagError::InvalidIssuerKey)
}

fn proof_of(bytes: &[u8; PROOF_BYTES]) -> Result<Proof<Ristretto255>, TagError> {
    Proof::deserialize(bytes).map_err(|_| TagError::InvalidResponse)
}

fn evaluation_of(
    bytes: &[u8; EVALUATION_BYTES],
) -> Result<EvaluationElement<Ristretto255>, TagError> {
    EvaluationElement::deserialize(bytes).map_err(|_| TagError::InvalidResponse)
}

/// The tag of a VOPRF output (SHA-512's 64 bytes).
fn finalized<O: AsRef<[u8]>>(output: Result<O, voprf::Error>) -> Result<Tag, TagError> {
    let output = output.map_err(verify_error)?;
    let bytes: [u8; TAG_BYTES] = output
        .as_ref()
        .try_into()
        .map_err(|_| TagError::InvalidResponse)?;
    Ok(Tag(bytes))
}

fn verify_error(error: voprf::Error) -> TagError {
    match error {
        voprf::Error::ProofVerification => TagError::ProofFailed,
        voprf::Error::Deserialization => TagError::InvalidResponse,
        other => TagError::Voprf(other),
    }
}

/// A tag issuer: the VOPRF key.
#[derive(Clone)]
pub struct TagIssuer {
    server: VoprfServer<Ristretto255>,
}

impl std::fmt::Debug for TagIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        write!(f, "TagIssuer({:?})", self.public_key())
    }
}

impl TagIssuer {
    /// A new random key.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Result<TagIssuer, TagError> {
        let server = VoprfServer::new(&mut Rng09(rng)).map_err(TagError::Voprf)?;
        Ok(TagIssuer { server })
    }

    /// The key RFC 9497's `DeriveKeyPair` derives from `seed` (with this
    /// application's `info`): the same seed, the same key.
    pub fn from_seed(seed: &[u8; 32]) -> Result<TagIssuer, TagError> {
        let server = VoprfServer::new_from_seed(seed, KEY_INFO).map_err(TagError::Voprf)?;
        Ok(TagIssuer { server })
    }

    /// The public key the registrar admits and clinics verify against.
    pub fn public_key(&self) -> IssuerKey {
        let bytes = Ristretto255::serialize_elem(self.server.get_public_key());
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        IssuerKey(key)
    }

    /// Evaluates one blinded request, with a proof.
    pub fn evaluate(
        &self,
        request: &TagRequest,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<TagResponse, TagError> {
        let blinded =
            BlindedElement::deserialize(&request.0).map_err(|_| TagError::InvalidRequest)?;
        let result = self.server.blind_evaluate(&mut Rng09(rng), &blinded);
        Ok(TagResponse {
            evaluation: array(&result.message.serialize())?,
            proof: array(&result.proof.serialize())?,
        })
    }

    /// Evaluates 1 to [`MAX_BATCH`] requests under one proof (cheaper than
    /// one proof each: the proof costs about as much as two evaluations).
    pub fn evaluate_batch(
        &self,
        requests: &[TagRequest],
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<BatchResponse, TagError> {
        if requests.is_empty() || requests.len() > MAX_BATCH {
            return Err(TagError::Batch {
                len: requests.len(),
                responses: 0,
                max: MAX_BATCH,
            });
        }
        let blinded = requests
            .iter()
            .map(|request| {
                BlindedElement::deserialize(&request.0).map_err(|_| TagError::InvalidRequest)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let result = self
            .server
            .batch_blind_evaluate(&mut Rng09(rng), &blinded)
            .map_err(TagError::Voprf)?;
        Ok(BatchResponse {
            evaluations: result
                .messages
                .iter()
                .map(|message| array(&message.serialize()))
                .collect::<Result<_, _>>()?,
            proof: array(&result.proof.serialize())?,
        })
    }

    /// The tag of `input`, evaluated directly (RFC 9497 `Evaluate`): what
    /// the blinded protocol gives a clinic, for an issuer shown the input
    /// (an audit with the patient's consent, or a test).
    pub fn tag_of(&self, input: &TagInput) -> Result<Tag, TagError> {
        finalized(self.server.evaluate(input.as_bytes()))
    }
}

/// A blinded input awaiting the issuer's response: what the clinic keeps
/// between the two messages (the blinding factor and the input).
#[derive(Clone)]
pub struct BlindedTag {
    client: VoprfClient<Ristretto255>,
    input: TagInput,
}

impl std::fmt::Debug for BlindedTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlindedTag({:?})", self.input)
    }
}

impl BlindedTag {
    /// Blinds `input`: the state to keep, and the request for the issuer.
    pub fn new(
        input: TagInput,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(BlindedTag, TagRequest), TagError> {
        let blind = VoprfClient::<Ristretto255>::blind(input.as_bytes(), &mut Rng09(rng))
            .map_err(TagError::Voprf)?;
        let request = TagRequest(array(&blind.message.serialize())?);
        Ok((
            BlindedTag {
                client: blind.state,
                input,
            },
            request,
        ))
    }

    /// Checks the issuer's proof against `issuer` and unblinds: the tag.
    pub fn finalize(&self, response: &TagResponse, issuer: &IssuerKey) -> Result<Tag, TagError> {
        let evaluation = evaluation_of(&response.evaluation)?;
        let proof = proof_of(&response.proof)?;
        finalized(self.client.finalize(
            self.input.as_bytes(),
            &evaluation,
            &proof,
            issuer_point(issuer)?,
        ))
    }
}

/// Checks a batch response's proof against `issuer` and unblinds each: the
/// tags, in the order of `blinded`.
pub fn finalize_batch(
    blinded: &[BlindedTag],
    response: &BatchResponse,
    issuer: &IssuerKey,
) -> Result<Vec<Tag>, TagError> {
    if blinded.is_empty()
        || blinded.len() > MAX_BATCH
        || blinded.len() != response.evaluations.len()
    {
        return Err(TagError::Batch {
            len: blinded.len(),
            responses: response.evaluations.len(),
            max: MAX_BATCH,
        });
    }
    let evaluations = response
        .evaluations
        .iter()
        .map(evaluation_of)
        .collect::<Result<Vec<_>, _>>()?;
    let proof = proof_of(&response.proof)?;
    let inputs: Vec<&[u8]> = blinded.iter().map(|tag| tag.input.as_bytes()).collect();
    let clients: Vec<VoprfClient<Ristretto255>> =
        blinded.iter().map(|tag| tag.client.clone()).collect();
    let outputs = VoprfClient::batch_finalize(
        &inputs,
        &clients,
        &evaluations,
        &proof,
        issuer_point(issuer)?,
    )
    .map_err(verify_error)?;
    outputs.map(finalized).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(9)
    }

    fn input(patient: &[u8]) -> TagInput {
        TagInput::claim_event(patient, b"2026-03-02 U07.1").unwrap()
    }

    fn unhex<const N: usize>(text: &str) -> [u8; N] {
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    /// Known answers of RFC 9497, appendix A.1.2 (ristretto255-SHA512,
    /// VOPRF mode): the key `DeriveKeyPair` gives for the test seed and
    /// info, and the output of `Evaluate` for both test inputs — what this
    /// module returns as a tag, and what a blinded exchange must give too.
    #[test]
    fn rfc9497_known_answers() {
        let seed: [u8; 32] = [0xa3; 32];
        let server = VoprfServer::<Ristretto255>::new_from_seed(&seed, b"test key").unwrap();
        let issuer = TagIssuer { server };
        assert_eq!(
            issuer.public_key().0,
            unhex::<32>("c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e")
        );
        let vectors = [
            (
                vec![0x00],
                "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7d\
                 a4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c",
            ),
            (
                vec![0x5a; 17],
                "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60\
                 356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6",
            ),
        ];
        for (raw, output) in vectors {
            let output = output.replace(' ', "");
            let input = TagInput(raw);
            assert_eq!(issuer.tag_of(&input).unwrap().0, unhex::<64>(&output));
            // The blinded exchange, with its proof checked, gives the same.
            let (blinded, request) = BlindedTag::new(input, &mut rng()).unwrap();
            let response = issuer.evaluate(&request, &mut rng()).unwrap();
            let tag = blinded.finalize(&response, &issuer.public_key()).unwrap();
            assert_eq!(tag.0, unhex::<64>(&output));
        }
    }

    #[test]
    fn blinded_tags_equal_direct_evaluation_and_do_not_depend_on_the_blind() {
        let mut rng = rng();
        let issuer = TagIssuer::from_seed(&[7; 32]).unwrap();
        let key = issuer.public_key();
        assert_eq!(key.check(), Ok(()));
        let mut tags = Vec::new();
        for _ in 0..3 {
            let (blinded, request) = BlindedTag::new(input(b"patient 1"), &mut rng).unwrap();
            let response = issuer.evaluate(&request, &mut rng).unwrap();
            tags.push(blinded.finalize(&response, &key).unwrap());
        }
        assert_eq!(tags[0], tags[1]);
        assert_eq!(tags[1], tags[2]);
        assert_eq!(issuer.tag_of(&input(b"patient 1")).unwrap(), tags[0]);
        assert_ne!(issuer.tag_of(&input(b"patient 2")).unwrap(), tags[0]);
        // Another key, another tag for the same input.
        let other = TagIssuer::from_seed(&[8; 32]).unwrap();
        assert_ne!(other.tag_of(&input(b"patient 1")).unwrap(), tags[0]);
    }

    #[test]
    fn a_response_under_another_key_or_changed_is_refused() {
        let mut rng = rng();
        let issuer = TagIssuer::from_seed(&[7; 32]).unwrap();
        let impostor = TagIssuer::from_seed(&[8; 32]).unwrap();
        let (blinded, request) = BlindedTag::new(input(b"patient 1"), &mut rng).unwrap();
        let forged = impostor.evaluate(&request, &mut rng).unwrap();
        assert_eq!(
            blinded.finalize(&forged, &issuer.public_key()),
            Err(TagError::ProofFailed)
        );
        let mut response = issuer.evaluate(&request, &mut rng).unwrap();
        response.proof[3] ^= 1;
        assert!(blinded.finalize(&response, &issuer.public_key()).is_err());
        assert_eq!(
            blinded.finalize(&response, &IssuerKey([0; 32])),
            Err(TagError::InvalidIssuerKey)
        );
        assert_eq!(
            issuer.evaluate(&TagRequest([0xff; 32]), &mut rng),
            Err(TagError::InvalidRequest)
        );
    }

    #[test]
    fn batches_give_the_same_tags() {
        let mut rng = rng();
        let issuer = TagIssuer::from_seed(&[7; 32]).unwrap();
        let patients: Vec<Vec<u8>> = (0..5)
            .map(|i| format!("patient {i}").into_bytes())
            .collect();
        let (blinded, requests): (Vec<_>, Vec<_>) = patients
            .iter()
            .map(|patient| BlindedTag::new(input(patient), &mut rng).unwrap())
            .unzip();
        let response = issuer.evaluate_batch(&requests, &mut rng).unwrap();
        let tags = finalize_batch(&blinded, &response, &issuer.public_key()).unwrap();
        for (patient, tag) in patients.iter().zip(&tags) {
            assert_eq!(issuer.tag_of(&input(patient)).unwrap(), *tag);
        }
        assert!(matches!(
            finalize_batch(&blinded[1..], &response, &issuer.public_key()),
            Err(TagError::Batch { .. })
        ));
        assert!(matches!(
            issuer.evaluate_batch(&[], &mut rng),
            Err(TagError::Batch { .. })
        ));
    }

    #[test]
    fn inputs_are_length_prefixed_and_bounded() {
        assert_ne!(
            TagInput::claim_event(b"ab", b"c").unwrap(),
            TagInput::claim_event(b"a", b"bc").unwrap()
        );
        assert_eq!(
            TagInput::claim_event(b"", b"c"),
            Err(TagError::EmptyPart { field: "patient" })
        );
        let long = vec![b'x'; MAX_INPUT_PART_BYTES + 1];
        assert_eq!(
            TagInput::claim_event(b"a", &long),
            Err(TagError::PartTooLong {
                field: "event",
                len: MAX_INPUT_PART_BYTES + 1,
                max: MAX_INPUT_PART_BYTES
            })
        );
        assert!(TagInput::claim_event(b"a", &long[1..]).is_ok());
        let programme = Hash([1; 32]);
        assert_ne!(
            TagInput::allocation(&programme, b"resident", 1).unwrap(),
            TagInput::allocation(&programme, b"resident", 2).unwrap()
        );
        // Claim and allocation inputs never coincide: different labels.
        assert_ne!(
            TagInput::allocation(&programme, b"x", 0)
                .unwrap()
                .as_bytes()[..20],
            TagInput::claim_event(b"x", b"y").unwrap().as_bytes()[..20]
        );
        assert_eq!(
            format!("{:?}", TagInput::claim_event(b"secret", b"e").unwrap()),
            "TagInput(40 bytes)"
        );
    }
}
