//! `provenance`: needs lists, pledges, and the custody trail of every
//! shipment, the use case this ledger exists for.
//!
//! * A **registrar** registers organisations (hospitals, warehouses, NGOs).
//! * A registered organisation **publishes a need**: item, quantity,
//!   destination. The need's id is the id of the transaction that published it.
//! * A donor **pledges** against a need; pledges never exceed the need.
//! * A donor **ships** against their pledge: the shipment's id is the id of
//!   the transaction that created it, and the donor is its first custodian.
//! * Every **hand-over** (donor → carrier → warehouse → hospital) is signed by
//!   the custodian handing over and names the receiver and the quantity; it is
//!   complete only when the receiver signs its **acceptance**. The receiver
//!   may accept less than was handed over (a loss, recorded); never more.
//! * Each completed hand-over appends a step to the shipment's custody trail
//!   (`trail:` keys), each a state entry with its own proof.
//!
//! Invariants (tested by proptest): the quantity in custody never exceeds
//! what was shipped; no hand-over completes without both the handing and the
//! receiving signature; what a need has received never exceeds its quantity.
//!
//! **Limits.** Every text (organisation name, item, destination) is UTF-8 of
//! 0 to [`MAX_TEXT_BYTES`] bytes, after a one-byte length. [`Operation::encode`]
//! encodes a value exactly or refuses it with [`EncodeError::FieldTooLong`]
//! naming the field; it never cuts a text (a cut can split a character, and
//! then the application's own decoder refuses the payload). So
//! `decode(encode(v)) == v` for every value the encoder accepts, and
//! `encode(decode(b)) == b` for every payload the decoder accepts; the same
//! holds for the stored records ([`Need`], [`Shipment`], [`CustodyStep`]),
//! which have no variable-length fields (tested by proptest in
//! `tests/payload_roundtrip.rs`, and fuzzed by
//! `fuzz/fuzz_targets/decode_provenance_payload.rs`).
//!
//! **Keys.** The keys a payload names, the organisation of
//! [`Operation::RegisterOrganisation`] and the receiver of
//! [`Operation::HandOver`], come from the payload, not from a signature, and
//! the application stores them as parties who may later sign. So each must
//! be one only its owner can sign for ([`PublicKey::check_strict`]:
//! canonical, on the curve, prime order); any other fails with
//! [`INVALID_KEY`] before anything else is looked at, and nothing is stored.
//! Under the ZIP-215 rule a small-order key "signs" anything: a custodian
//! with such a key could be impersonated by everyone. For the same reason a
//! *sender* the application records as a party — a donor who pledges or
//! ships, and so becomes a shipment's first custodian — must be strict too
//! ([`INVALID_KEY`] otherwise).
//!
//! Failures: [`MALFORMED_PAYLOAD`], then [`INVALID_KEY`], then the rules of
//! each operation ([`NOT_AUTHORISED`], [`UNKNOWN_RECORD`], [`QUANTITY_RULE`],
//! [`WRONG_STATE`]); [`CORRUPT_RECORD`] wherever a stored record is read.

#![deny(clippy::indexing_slicing)]

use bytes::Bytes;
use ledger_core::machine::{Failure, StateAccess, StateMachine, StateValue, TxContext};
use ledger_core::{Hash, PublicKey};

use crate::EncodeError;

/// Longest organisation name, item or destination, in bytes of UTF-8
/// (short labels; the documents themselves belong off the ledger).
pub const MAX_TEXT_BYTES: usize = 64;

// A text's length travels as one byte.
const _: () = assert!(MAX_TEXT_BYTES <= u8::MAX as usize);

/// Failure code: the payload is not a provenance operation.
pub const MALFORMED_PAYLOAD: u32 = 1;
/// Failure code: the signer may not do this.
pub const NOT_AUTHORISED: u32 = 2;
/// Failure code: the referenced need, pledge or shipment does not exist.
pub const UNKNOWN_RECORD: u32 = 3;
/// Failure code: a quantity rule would be broken.
pub const QUANTITY_RULE: u32 = 4;
/// Failure code: the record already exists or is in the wrong state.
pub const WRONG_STATE: u32 = 5;
/// Failure code: stored bytes are not a valid record.
pub const CORRUPT_RECORD: u32 = 6;
/// Failure code: a key named in the payload is not strict (not canonical,
/// not a curve point, or of small or mixed order;
/// [`PublicKey::check_strict`]).
pub const INVALID_KEY: u32 = 7;

/// One provenance operation (a transaction payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Registrar only: `organisation` may publish needs and receive.
    RegisterOrganisation {
        /// The organisation's key.
        organisation: PublicKey,
        /// Its name.
        name: String,
    },
    /// A registered organisation asks for `quantity` of `item` at `destination`.
    PublishNeed {
        /// What is needed.
        item: String,
        /// How many units.
        quantity: u64,
        /// Where to.
        destination: String,
    },
    /// A donor promises `quantity` units towards a need.
    Pledge {
        /// The need's id.
        need: Hash,
        /// Units promised.
        quantity: u64,
    },
    /// A donor ships `quantity` units of their pledge to a need.
    Ship {
        /// The need's id.
        need: Hash,
        /// Units shipped.
        quantity: u64,
    },
    /// The custodian hands a shipment to `to`; pending until accepted.
    HandOver {
        /// The shipment's id.
        shipment: Hash,
        /// The receiver.
        to: PublicKey,
        /// Units handed over.
        quantity: u64,
    },
    /// The pending receiver accepts `quantity` units (at most those handed over).
    Accept {
        /// The shipment's id.
        shipment: Hash,
        /// Units received.
        quantity: u64,
    },
}

const TAG_REGISTER: u8 = 1;
const TAG_NEED: u8 = 2;
const TAG_PLEDGE: u8 = 3;
const TAG_SHIP: u8 = 4;
const TAG_HAND_OVER: u8 = 5;
const TAG_ACCEPT: u8 = 6;

/// Appends `text` as a one-byte length and its UTF-8 bytes, or refuses it
/// if it is longer than [`MAX_TEXT_BYTES`].
fn put_text(out: &mut Vec<u8>, field: &'static str, text: &str) -> Result<(), EncodeError> {
    let bytes = text.as_bytes();
    let too_long = || EncodeError::FieldTooLong {
        field,
        len: bytes.len(),
        max: MAX_TEXT_BYTES,
    };
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(too_long());
    }
    out.push(u8::try_from(bytes.len()).map_err(|_| too_long())?);
    out.extend_from_slice(bytes);
    Ok(())
}

/// A strict little reader over a payload.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }
    fn hash(&mut self) -> Option<Hash> {
        self.take::<32>().map(Hash)
    }
    fn key(&mut self) -> Option<PublicKey> {
        self.take::<32>().map(PublicKey)
    }
    /// A text: checked against the limit and the remaining bytes, and
    /// validated as UTF-8, before anything is allocated.
    fn text(&mut self) -> Option<String> {
        let [len] = self.take::<1>()?;
        let len = usize::from(len);
        if len > MAX_TEXT_BYTES {
            return None;
        }
        let (text, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        std::str::from_utf8(text).ok().map(str::to_owned)
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

impl Operation {
    /// The canonical payload: a tag byte, then the fields in order
    /// (keys and ids 32 bytes, quantities u64 LE, texts a u8 length and
    /// UTF-8 bytes), or [`EncodeError::FieldTooLong`] for a text over
    /// [`MAX_TEXT_BYTES`].
    pub fn encode(&self) -> Result<Bytes, EncodeError> {
        let mut out = Vec::with_capacity(80);
        match self {
            Operation::RegisterOrganisation { organisation, name } => {
                out.push(TAG_REGISTER);
                out.extend_from_slice(&organisation.0);
                put_text(&mut out, "name", name)?;
            }
            Operation::PublishNeed {
                item,
                quantity,
                destination,
            } => {
                out.push(TAG_NEED);
                put_text(&mut out, "item", item)?;
                out.extend_from_slice(&quantity.to_le_bytes());
                put_text(&mut out, "destination", destination)?;
            }
            Operation::Pledge { need, quantity } | Operation::Ship { need, quantity } => {
                out.push(if matches!(self, Operation::Pledge { .. }) {
                    TAG_PLEDGE
                } else {
                    TAG_SHIP
                });
                out.extend_from_slice(need.as_bytes());
                out.extend_from_slice(&quantity.to_le_bytes());
            }
            Operation::HandOver {
                shipment,
                to,
                quantity,
            } => {
                out.push(TAG_HAND_OVER);
                out.extend_from_slice(shipment.as_bytes());
                out.extend_from_slice(&to.0);
                out.extend_from_slice(&quantity.to_le_bytes());
            }
            Operation::Accept { shipment, quantity } => {
                out.push(TAG_ACCEPT);
                out.extend_from_slice(shipment.as_bytes());
                out.extend_from_slice(&quantity.to_le_bytes());
            }
        }
        Ok(Bytes::from(out))
    }

    /// The key this operation names for the application to store, if any.
    fn named_key(&self) -> Option<&PublicKey> {
        match self {
            Operation::RegisterOrganisation { organisation, .. } => Some(organisation),
            Operation::HandOver { to, .. } => Some(to),
            Operation::PublishNeed { .. }
            | Operation::Pledge { .. }
            | Operation::Ship { .. }
            | Operation::Accept { .. } => None,
        }
    }

    /// Strict decoding: no trailing bytes, valid UTF-8, texts within limit.
    pub fn decode(payload: &[u8]) -> Option<Operation> {
        let mut cursor = Cursor(payload);
        let [tag] = cursor.take::<1>()?;
        let operation = match tag {
            TAG_REGISTER => Operation::RegisterOrganisation {
                organisation: cursor.key()?,
                name: cursor.text()?,
            },
            TAG_NEED => Operation::PublishNeed {
                item: cursor.text()?,
                quantity: cursor.u64()?,
                destination: cursor.text()?,
            },
            TAG_PLEDGE => Operation::Pledge {
                need: cursor.hash()?,
                quantity: cursor.u64()?,
            },
            TAG_SHIP => Operation::Ship {
                need: cursor.hash()?,
                quantity: cursor.u64()?,
            },
            TAG_HAND_OVER => Operation::HandOver {
                shipment: cursor.hash()?,
                to: cursor.key()?,
                quantity: cursor.u64()?,
            },
            TAG_ACCEPT => Operation::Accept {
                shipment: cursor.hash()?,
                quantity: cursor.u64()?,
            },
            _ => return None,
        };
        cursor.done().then_some(operation)
    }
}

/// A published need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    /// The organisation that published it (and receives it).
    pub organisation: PublicKey,
    /// Units asked for.
    pub quantity: u64,
    /// Units pledged so far (never above `quantity`).
    pub pledged: u64,
    /// Units received by the organisation so far (never above `quantity`).
    pub received: u64,
}

/// A shipment in transit or delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shipment {
    /// The need it serves.
    pub need: Hash,
    /// Units shipped by the donor.
    pub shipped: u64,
    /// The current custodian.
    pub custodian: PublicKey,
    /// Units in the custodian's hands (never above `shipped`).
    pub in_custody: u64,
    /// A hand-over awaiting acceptance: receiver and units.
    pub pending: Option<(PublicKey, u64)>,
    /// Completed hand-overs so far (the custody trail's length).
    pub steps: u64,
    /// True once the need's organisation accepted it.
    pub delivered: bool,
}

/// One completed hand-over in a shipment's custody trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustodyStep {
    /// Who handed over (signed the hand-over).
    pub from: PublicKey,
    /// Who received (signed the acceptance).
    pub to: PublicKey,
    /// Units handed over.
    pub handed_over: u64,
    /// Units accepted (at most `handed_over`).
    pub accepted: u64,
    /// Id of the acceptance transaction.
    pub accepted_in: Hash,
}

/// State key of an organisation's registration.
pub fn organisation_key(organisation: &PublicKey) -> Vec<u8> {
    [b"org:".as_slice(), &organisation.0].concat()
}
/// State key of a need.
pub fn need_key(need: &Hash) -> Vec<u8> {
    [b"need:".as_slice(), need.as_bytes()].concat()
}
/// State key of a donor's pledge to a need: units pledged minus shipped.
pub fn pledge_key(need: &Hash, donor: &PublicKey) -> Vec<u8> {
    [b"pledge:".as_slice(), need.as_bytes(), &donor.0].concat()
}
/// State key of a shipment.
pub fn shipment_key(shipment: &Hash) -> Vec<u8> {
    [b"ship:".as_slice(), shipment.as_bytes()].concat()
}
/// State key of step `index` of a shipment's custody trail.
pub fn trail_key(shipment: &Hash, index: u64) -> Vec<u8> {
    [
        b"trail:".as_slice(),
        shipment.as_bytes(),
        &index.to_be_bytes(),
    ]
    .concat()
}

fn corrupt(what: &str) -> Failure {
    Failure::new(CORRUPT_RECORD, format!("stored {what} is not valid"))
}

impl Need {
    /// The stored encoding (fixed fields, no limits to break).
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(56);
        out.extend_from_slice(&self.organisation.0);
        out.extend_from_slice(&self.quantity.to_le_bytes());
        out.extend_from_slice(&self.pledged.to_le_bytes());
        out.extend_from_slice(&self.received.to_le_bytes());
        Bytes::from(out)
    }
    /// Decodes a stored need.
    pub fn decode(bytes: &[u8]) -> Option<Need> {
        let mut cursor = Cursor(bytes);
        let need = Need {
            organisation: cursor.key()?,
            quantity: cursor.u64()?,
            pledged: cursor.u64()?,
            received: cursor.u64()?,
        };
        cursor.done().then_some(need)
    }
}

impl Shipment {
    /// The stored encoding (fixed fields, no limits to break).
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(self.need.as_bytes());
        out.extend_from_slice(&self.shipped.to_le_bytes());
        out.extend_from_slice(&self.custodian.0);
        out.extend_from_slice(&self.in_custody.to_le_bytes());
        match &self.pending {
            None => out.push(0),
            Some((to, quantity)) => {
                out.push(1);
                out.extend_from_slice(&to.0);
                out.extend_from_slice(&quantity.to_le_bytes());
            }
        }
        out.extend_from_slice(&self.steps.to_le_bytes());
        out.push(u8::from(self.delivered));
        Bytes::from(out)
    }
    /// Decodes a stored shipment.
    pub fn decode(bytes: &[u8]) -> Option<Shipment> {
        let mut cursor = Cursor(bytes);
        let need = cursor.hash()?;
        let shipped = cursor.u64()?;
        let custodian = cursor.key()?;
        let in_custody = cursor.u64()?;
        let pending = match cursor.take::<1>()? {
            [0] => None,
            [1] => Some((cursor.key()?, cursor.u64()?)),
            _ => return None,
        };
        let steps = cursor.u64()?;
        let delivered = match cursor.take::<1>()? {
            [0] => false,
            [1] => true,
            _ => return None,
        };
        cursor.done().then_some(Shipment {
            need,
            shipped,
            custodian,
            in_custody,
            pending,
            steps,
            delivered,
        })
    }
}

impl CustodyStep {
    /// The stored encoding (fixed fields, no limits to break).
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(112);
        out.extend_from_slice(&self.from.0);
        out.extend_from_slice(&self.to.0);
        out.extend_from_slice(&self.handed_over.to_le_bytes());
        out.extend_from_slice(&self.accepted.to_le_bytes());
        out.extend_from_slice(self.accepted_in.as_bytes());
        Bytes::from(out)
    }
    /// Decodes a stored custody step.
    pub fn decode(bytes: &[u8]) -> Option<CustodyStep> {
        let mut cursor = Cursor(bytes);
        let step = CustodyStep {
            from: cursor.key()?,
            to: cursor.key()?,
            handed_over: cursor.u64()?,
            accepted: cursor.u64()?,
            accepted_in: cursor.hash()?,
        };
        cursor.done().then_some(step)
    }
}

fn read_u64(state: &mut dyn StateAccess, key: &[u8]) -> Result<u64, Failure> {
    match state.get(key)? {
        None => Ok(0),
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
            .map(u64::from_le_bytes)
            .map_err(|_| corrupt("pledge")),
    }
}

fn read_need(state: &mut dyn StateAccess, need: &Hash) -> Result<Need, Failure> {
    let bytes = state
        .get(&need_key(need))?
        .ok_or_else(|| Failure::new(UNKNOWN_RECORD, "no such need"))?;
    Need::decode(&bytes).ok_or_else(|| corrupt("need"))
}

fn read_shipment(state: &mut dyn StateAccess, shipment: &Hash) -> Result<Shipment, Failure> {
    let bytes = state
        .get(&shipment_key(shipment))?
        .ok_or_else(|| Failure::new(UNKNOWN_RECORD, "no such shipment"))?;
    Shipment::decode(&bytes).ok_or_else(|| corrupt("shipment"))
}

fn quantity_rule(message: &str) -> Failure {
    Failure::new(QUANTITY_RULE, message)
}

/// The provenance application.
#[derive(Clone, Debug)]
pub struct Provenance {
    /// The only key that may register organisations.
    pub registrar: PublicKey,
}

impl StateMachine for Provenance {
    fn execute(&self, context: &TxContext<'_>, state: &mut dyn StateAccess) -> Result<(), Failure> {
        let signer = *context.tx.sender();
        let operation = Operation::decode(context.tx.payload())
            .ok_or_else(|| Failure::new(MALFORMED_PAYLOAD, "not a provenance payload"))?;
        if let Some(key) = operation.named_key() {
            key.check_strict()
                .map_err(|error| Failure::new(INVALID_KEY, format!("key refused: {error}")))?;
        }
        if matches!(operation, Operation::Pledge { .. } | Operation::Ship { .. }) {
            signer.check_strict().map_err(|error| {
                Failure::new(INVALID_KEY, format!("the donor's key is refused: {error}"))
            })?;
        }
        match operation {
            Operation::RegisterOrganisation { organisation, name } => {
                if signer != self.registrar {
                    return Err(Failure::new(NOT_AUTHORISED, "only the registrar registers"));
                }
                state.put(&organisation_key(&organisation), Bytes::from(name).into())?;
            }
            Operation::PublishNeed { quantity, .. } => {
                if state.get(&organisation_key(&signer))?.is_none() {
                    return Err(Failure::new(
                        NOT_AUTHORISED,
                        "not a registered organisation",
                    ));
                }
                let need = Need {
                    organisation: signer,
                    quantity,
                    pledged: 0,
                    received: 0,
                };
                // The need's id is this transaction's id: unique by construction.
                state.put(&need_key(&context.tx_id), need.encode().into())?;
                state.emit(b"need", context.tx_id.as_bytes())?;
            }
            Operation::Pledge {
                need: need_id,
                quantity,
            } => {
                let mut need = read_need(state, &need_id)?;
                need.pledged = need
                    .pledged
                    .checked_add(quantity)
                    .filter(|pledged| *pledged <= need.quantity)
                    .ok_or_else(|| quantity_rule("pledges would exceed the need"))?;
                let key = pledge_key(&need_id, &signer);
                let open = read_u64(state, &key)?
                    .checked_add(quantity)
                    .ok_or_else(|| quantity_rule("pledge overflow"))?;
                state.put(&key, StateValue::from_slice(&open.to_le_bytes()))?;
                state.put(&need_key(&need_id), need.encode().into())?;
            }
            Operation::Ship {
                need: need_id,
                quantity,
            } => {
                read_need(state, &need_id)?;
                let key = pledge_key(&need_id, &signer);
                let open = read_u64(state, &key)?
                    .checked_sub(quantity)
                    .ok_or_else(|| quantity_rule("cannot ship more than pledged"))?;
                if quantity == 0 {
                    return Err(quantity_rule("a shipment carries at least one unit"));
                }
                state.put(&key, StateValue::from_slice(&open.to_le_bytes()))?;
                let shipment = Shipment {
                    need: need_id,
                    shipped: quantity,
                    custodian: signer,
                    in_custody: quantity,
                    pending: None,
                    steps: 0,
                    delivered: false,
                };
                state.put(&shipment_key(&context.tx_id), shipment.encode().into())?;
                state.emit(b"shipment", context.tx_id.as_bytes())?;
            }
            Operation::HandOver {
                shipment: shipment_id,
                to,
                quantity,
            } => {
                let mut shipment = read_shipment(state, &shipment_id)?;
                if shipment.custodian != signer {
                    return Err(Failure::new(
                        NOT_AUTHORISED,
                        "only the custodian hands over",
                    ));
                }
                if shipment.delivered || shipment.pending.is_some() {
                    return Err(Failure::new(WRONG_STATE, "delivered or hand-over pending"));
                }
                if quantity == 0 || quantity > shipment.in_custody {
                    return Err(quantity_rule("cannot hand over more than is in custody"));
                }
                shipment.pending = Some((to, quantity));
                state.put(&shipment_key(&shipment_id), shipment.encode().into())?;
            }
            Operation::Accept {
                shipment: shipment_id,
                quantity,
            } => {
                let mut shipment = read_shipment(state, &shipment_id)?;
                let Some((receiver, handed_over)) = shipment.pending else {
                    return Err(Failure::new(WRONG_STATE, "no hand-over pending"));
                };
                if receiver != signer {
                    return Err(Failure::new(
                        NOT_AUTHORISED,
                        "only the named receiver accepts",
                    ));
                }
                if quantity > handed_over {
                    return Err(quantity_rule("cannot accept more than was handed over"));
                }
                let step = CustodyStep {
                    from: shipment.custodian,
                    to: receiver,
                    handed_over,
                    accepted: quantity,
                    accepted_in: context.tx_id,
                };
                state.put(
                    &trail_key(&shipment_id, shipment.steps),
                    step.encode().into(),
                )?;
                shipment.steps += 1;
                shipment.custodian = receiver;
                shipment.in_custody = quantity;
                shipment.pending = None;
                let mut need = read_need(state, &shipment.need)?;
                if receiver == need.organisation {
                    need.received = need
                        .received
                        .checked_add(quantity)
                        .filter(|received| *received <= need.quantity)
                        .ok_or_else(|| quantity_rule("need would receive more than it asked"))?;
                    shipment.delivered = true;
                    state.put(&need_key(&shipment.need), need.encode().into())?;
                }
                state.put(&shipment_key(&shipment_id), shipment.encode().into())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_roundtrip_strictly() {
        let ops = [
            Operation::RegisterOrganisation {
                organisation: PublicKey([1; 32]),
                name: "St. Mary's".into(),
            },
            Operation::PublishNeed {
                item: "N95 masks".into(),
                quantity: 2000,
                destination: "ward 4".into(),
            },
            Operation::Pledge {
                need: Hash([2; 32]),
                quantity: 500,
            },
            Operation::Ship {
                need: Hash([2; 32]),
                quantity: 200,
            },
            Operation::HandOver {
                shipment: Hash([3; 32]),
                to: PublicKey([4; 32]),
                quantity: 200,
            },
            Operation::Accept {
                shipment: Hash([3; 32]),
                quantity: 199,
            },
        ];
        for op in ops {
            let bytes = op.encode().unwrap();
            assert_eq!(Operation::decode(&bytes), Some(op.clone()));
            for len in 0..bytes.len() {
                assert_eq!(Operation::decode(&bytes[..len]), None);
            }
            let mut longer = bytes.to_vec();
            longer.push(0);
            assert_eq!(Operation::decode(&longer), None);
        }
    }

    #[test]
    fn texts_are_refused_not_cut() {
        // Thirty euro signs: 90 bytes, once cut at 64 in the middle of a
        // character into a payload the decoder refused.
        let register = |name: String| Operation::RegisterOrganisation {
            organisation: PublicKey([1; 32]),
            name,
        };
        assert_eq!(
            register("€".repeat(30)).encode(),
            Err(EncodeError::FieldTooLong {
                field: "name",
                len: 90,
                max: MAX_TEXT_BYTES
            })
        );
        // 21 euro signs and one byte: exactly the limit, and exact.
        let exact = register(format!("{}a", "€".repeat(21)));
        let bytes = exact.encode().unwrap();
        assert_eq!(Operation::decode(&bytes), Some(exact));
        // 21 euro signs and a two-byte character: one byte over.
        assert_eq!(
            register(format!("{}é", "€".repeat(21))).encode(),
            Err(EncodeError::FieldTooLong {
                field: "name",
                len: MAX_TEXT_BYTES + 1,
                max: MAX_TEXT_BYTES
            })
        );
        let need = Operation::PublishNeed {
            item: "masks".into(),
            quantity: 1,
            destination: "x".repeat(MAX_TEXT_BYTES + 1),
        };
        assert_eq!(
            need.encode(),
            Err(EncodeError::FieldTooLong {
                field: "destination",
                len: MAX_TEXT_BYTES + 1,
                max: MAX_TEXT_BYTES
            })
        );
    }
}
