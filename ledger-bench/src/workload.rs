//! The workload generator: reproducible blocks of signed transactions for
//! the `transfers`, `provenance` or `claims` application, built and checked by a
//! proposer ledger in memory.
//!
//! Every run with the same [`WorkloadOptions`] produces the same bytes: keys,
//! choices and amounts come from one ChaCha20 stream seeded by `seed`, and
//! ed25519 signatures are deterministic.
//!
//! * **transfers**: a genesis block mints a balance for every account; each
//!   later block holds random transfers between accounts (with a memo that
//!   brings the payload to `--payload-bytes` when that is above the plain
//!   transfer's 41 bytes).
//! * **provenance**: a genesis block registers a quarter of the accounts as
//!   organisations; then each block advances as many donation flows as it
//!   holds transactions, one step each: an organisation publishes a need, a
//!   donor pledges, ships, hands the shipment to a carrier, the carrier
//!   accepts and hands it to the organisation, which accepts it (delivered);
//!   a delivered flow starts over with new participants.
//! * **claims**: a genesis block admits an insurer (account 1), a clinic
//!   (account 2) and a tag issuer, and the insurer publishes a policy; then
//!   each block advances as many claim flows as it holds transactions, one
//!   step each: a member enrols (once per member), the clinic attests an
//!   event with its tag (a VOPRF output evaluated here, off the ledger, as
//!   a tag issuer would), the member files, the insurer approves and pays;
//!   a paid flow starts over with a new event. Every event has its own tag.
//!
//! A share of each block (`--invalid-share`) can be transactions the
//! application rejects: a transfer above any balance, a pledge to a need that
//! does not exist, a claim on an attestation that does not exist. They are valid ledger transactions (signed, right nonce),
//! included with a failed receipt that changes only the sender's nonce.

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use ledger_apps::claims::tags::{TagInput, TagIssuer};
use ledger_apps::claims::{self, Claims};
use ledger_apps::provenance::{self, Provenance};
use ledger_apps::transfers::{self, Transfers};
use ledger_core::machine::{Failure, StateAccess, StateMachine, TxContext};
use ledger_core::MemStore;
use ledger_core::{Hash, Ledger, LedgerConfig, PublicKey, Transaction};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;

/// The chain the benchmark's blocks belong to.
pub const CHAIN_ID: u64 = 0xbe4c;
/// Balance each account receives in the transfers genesis block.
pub const GENESIS_BALANCE: u64 = 1_000_000_000;
/// Timestamp of the genesis block (2026-01-01); each block is a second later.
const GENESIS_TIME_MS: u64 = 1_767_225_600_000;

/// Which application the workload drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkloadKind {
    /// Transfers between funded accounts.
    Transfers,
    /// Donation flows with custody hand-overs.
    Provenance,
    /// Insurance claims: enrol, attest with a blinded tag, file, approve, pay.
    Claims,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct WorkloadOptions {
    /// The application.
    pub kind: WorkloadKind,
    /// Accounts (signers besides the minter or registrar).
    pub accounts: u32,
    /// Transactions per block after genesis.
    pub txs_per_block: u32,
    /// Blocks after genesis.
    pub blocks: u32,
    /// Payload bytes of each transfer (transfers only; at least the plain
    /// transfer's 41 bytes, at most the payload limit).
    pub payload_bytes: Option<usize>,
    /// Share of each block's transactions the application rejects, 0 to 1.
    pub invalid_share: f64,
    /// Seed of the generator.
    pub seed: u64,
}

impl WorkloadOptions {
    /// Checks the options' ranges; the message says which one is wrong.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.invalid_share) {
            return Err(format!(
                "--invalid-share must be between 0 and 1, not {}",
                self.invalid_share
            ));
        }
        if self.blocks == 0 {
            return Err("--blocks must be at least 1 (the measured blocks follow genesis)".into());
        }
        if self.accounts < 2 {
            return Err("--accounts must be at least 2".into());
        }
        if self.kind == WorkloadKind::Claims && self.accounts < 3 {
            return Err(
                "--accounts must be at least 3 for claims (an insurer, a clinic, members)".into(),
            );
        }
        if self.txs_per_block == 0 || self.txs_per_block > ledger_core::MAX_TXS_PER_BLOCK {
            return Err(format!(
                "--txs-per-block must be between 1 and {}",
                ledger_core::MAX_TXS_PER_BLOCK
            ));
        }
        if let Some(bytes) = self.payload_bytes {
            if self.kind != WorkloadKind::Transfers {
                return Err("--payload-bytes applies to the transfers workload".into());
            }
            let max = transfers::PAYLOAD_BYTES + transfers::MAX_MEMO_BYTES;
            if !(transfers::PAYLOAD_BYTES..=max).contains(&bytes) {
                return Err(format!(
                    "--payload-bytes must be between {} and {max}",
                    transfers::PAYLOAD_BYTES
                ));
            }
        }
        Ok(())
    }
}

/// The benchmark's state machine: one of the two applications.
#[derive(Clone, Debug)]
pub enum BenchApp {
    /// `transfers`.
    Transfers(Transfers),
    /// `provenance`.
    Provenance(Provenance),
    /// `claims`.
    Claims(Claims),
}

impl BenchApp {
    /// The application of `kind`, with the authority key of this module.
    pub fn new(kind: WorkloadKind) -> Self {
        let authority = PublicKey::from_signing_key(&authority_key());
        match kind {
            WorkloadKind::Transfers => BenchApp::Transfers(Transfers { minter: authority }),
            WorkloadKind::Provenance => BenchApp::Provenance(Provenance {
                registrar: authority,
            }),
            WorkloadKind::Claims => BenchApp::Claims(Claims {
                registrar: authority,
            }),
        }
    }
}

impl StateMachine for BenchApp {
    fn execute(&self, context: &TxContext<'_>, state: &mut dyn StateAccess) -> Result<(), Failure> {
        match self {
            BenchApp::Transfers(app) => app.execute(context, state),
            BenchApp::Provenance(app) => app.execute(context, state),
            BenchApp::Claims(app) => app.execute(context, state),
        }
    }

    fn read_hints(&self, tx: &Transaction, key: &mut dyn FnMut(&[u8])) {
        match self {
            BenchApp::Transfers(app) => app.read_hints(tx, key),
            BenchApp::Provenance(app) => app.read_hints(tx, key),
            BenchApp::Claims(app) => app.read_hints(tx, key),
        }
    }
}

/// The configuration every ledger of the benchmark uses.
pub fn ledger_config() -> LedgerConfig {
    LedgerConfig::new(CHAIN_ID)
}

/// The minter (transfers) or registrar (provenance, claims).
fn authority_key() -> SigningKey {
    SigningKey::from_bytes(&[0x4d; 32])
}

/// A generated workload: encoded blocks, genesis first.
pub struct Workload {
    /// The encoded blocks: the setup blocks, then the measured ones.
    pub blocks: Vec<Bytes>,
    /// How many of `blocks` come first and set the state up (fund the
    /// accounts, register organisations): one, or more when the accounts
    /// do not fit in one block of [`SETUP_TXS_PER_BLOCK`].
    pub setup_blocks: usize,
    /// Transactions after genesis the application rejects, by construction.
    pub invalid_txs: u64,
}

/// One planned transaction: who signs (an index into the key list, where 0
/// is the authority) and the payload. Nonces are assigned in block order.
struct Step {
    signer: usize,
    payload: Bytes,
    /// The provenance flow this step advances.
    flow: Option<usize>,
}

/// Transactions per setup block: a tenth of `MAX_TXS_PER_BLOCK`, so
/// that `--accounts 1000000` funds its accounts in 20 blocks.
pub const SETUP_TXS_PER_BLOCK: usize = 50_000;

/// Generates the blocks of `options`; `progress` is called once per block
/// with the blocks done and the blocks in all (setup blocks included).
pub fn generate(
    options: &WorkloadOptions,
    progress: impl Fn(u64, u64),
) -> Result<Workload, String> {
    options.check()?;
    let mut rng = ChaCha20Rng::seed_from_u64(options.seed);
    let mut keys = vec![authority_key()];
    keys.extend((0..options.accounts).map(|_| SigningKey::from_bytes(&rng.random::<[u8; 32]>())));
    let publics: Vec<PublicKey> = keys.iter().map(PublicKey::from_signing_key).collect();
    let mut planner = match options.kind {
        WorkloadKind::Transfers => Planner::Transfers {
            memo_bytes: options
                .payload_bytes
                .map_or(0, |bytes| bytes - transfers::PAYLOAD_BYTES),
        },
        WorkloadKind::Provenance => Planner::Provenance(Flows::new(options, &publics, &mut rng)),
        WorkloadKind::Claims => Planner::Claims(Box::new(ClaimFlows::new(options, &publics)?)),
    };
    let mut proposer = Ledger::open(
        MemStore::new(),
        BenchApp::new(options.kind),
        ledger_config(),
    )
    .map_err(|e| e.to_string())?;
    let mut nonces = vec![0u64; keys.len()];
    let invalid_per_block =
        (options.invalid_share * f64::from(options.txs_per_block)).round() as usize;
    let mut setup = planner.genesis(&publics)?;
    let setup_blocks = setup.len().div_ceil(SETUP_TXS_PER_BLOCK).max(1);
    let mut blocks = Vec::with_capacity(options.blocks as usize + setup_blocks);
    let mut invalid_txs = 0u64;
    let total = (setup_blocks + options.blocks as usize) as u64;
    for height in 0..total {
        let is_setup = height < setup_blocks as u64;
        let steps = if is_setup {
            let rest = setup.split_off(SETUP_TXS_PER_BLOCK.min(setup.len()));
            std::mem::replace(&mut setup, rest)
        } else {
            let n = options.txs_per_block as usize;
            let planned = planner.block(&mut rng, &publics, n - invalid_per_block)?;
            // The rejected transactions go to random places among the
            // planned ones, which keep their order.
            let mut rejected_at = vec![false; n];
            for at in rand::seq::index::sample(&mut rng, n, invalid_per_block) {
                if let Some(slot) = rejected_at.get_mut(at) {
                    *slot = true;
                }
            }
            let mut planned = planned.into_iter();
            let mut steps = Vec::with_capacity(n);
            for rejected in rejected_at {
                if rejected {
                    let signer = rng.random_range(1..keys.len());
                    steps.push(planner.rejected(&mut rng, &publics, signer)?);
                } else {
                    steps.extend(planned.next());
                }
            }
            invalid_txs += invalid_per_block as u64;
            steps
        };
        let flows_of: Vec<Option<usize>> = steps.iter().map(|step| step.flow).collect();
        let planned: Vec<(usize, u64, Bytes)> = steps
            .into_iter()
            .map(|step| {
                let nonce = nonces.get_mut(step.signer).map_or(0, |nonce| {
                    *nonce += 1;
                    *nonce - 1
                });
                (step.signer, nonce, step.payload)
            })
            .collect();
        let txs: Vec<Transaction> = planned
            .into_par_iter()
            .map(|(signer, nonce, payload)| {
                let key = keys.get(signer).ok_or("signer out of range")?;
                Transaction::sign(key, CHAIN_ID, nonce, payload).map_err(|e| e.to_string())
            })
            .collect::<Result<_, String>>()?;
        planner.signed(&flows_of, &txs);
        let count = txs.len();
        let block = proposer
            .build_block(txs, GENESIS_TIME_MS + height * 1_000)
            .map_err(|e| e.to_string())?;
        if block.transactions().len() != count {
            return Err(format!(
                "the proposer dropped transactions at height {height}"
            ));
        }
        let verified = proposer
            .verify_block(block.clone())
            .map_err(|e| e.to_string())?;
        let outcome = proposer.apply_block(verified).map_err(|e| e.to_string())?;
        let failed = outcome.receipts.iter().filter(|r| !r.is_success()).count();
        let expected = if is_setup { 0 } else { invalid_per_block };
        if failed != expected {
            return Err(format!(
                "{failed} transactions failed at height {height}, {expected} were planned to"
            ));
        }
        blocks.push(block.encode());
        progress(height + 1, total);
    }
    Ok(Workload {
        blocks,
        setup_blocks,
        invalid_txs,
    })
}

/// A payload the generator built. The encoders refuse only values over their
/// limits, which the options' checks exclude, so a refusal is reported as a
/// generator error rather than cut to fit.
fn payload(encoded: Result<Bytes, ledger_apps::EncodeError>) -> Result<Bytes, String> {
    encoded.map_err(|e| format!("the generator built a payload its application refuses: {e}"))
}

enum Planner {
    Transfers { memo_bytes: usize },
    Provenance(Flows),
    Claims(Box<ClaimFlows>),
}

impl Planner {
    fn genesis(&mut self, publics: &[PublicKey]) -> Result<Vec<Step>, String> {
        match self {
            Planner::Transfers { .. } => publics
                .iter()
                .skip(1)
                .map(|to| {
                    let mint = transfers::Operation::Mint {
                        to: *to,
                        amount: GENESIS_BALANCE,
                    };
                    Ok(Step {
                        signer: 0,
                        payload: payload(mint.encode())?,
                        flow: None,
                    })
                })
                .collect(),
            Planner::Provenance(flows) => flows.genesis(publics),
            Planner::Claims(flows) => flows.genesis(),
        }
    }

    fn block(
        &mut self,
        rng: &mut ChaCha20Rng,
        publics: &[PublicKey],
        n: usize,
    ) -> Result<Vec<Step>, String> {
        match self {
            Planner::Transfers { memo_bytes } => (0..n)
                .map(|_| {
                    let signer = rng.random_range(1..publics.len());
                    let to = publics[rng.random_range(1..publics.len())];
                    let amount = rng.random_range(1..1_000);
                    let operation = if *memo_bytes == 0 {
                        transfers::Operation::Transfer { to, amount }
                    } else {
                        let mut memo = vec![0u8; *memo_bytes];
                        rng.fill(&mut memo[..]);
                        transfers::Operation::TransferWithMemo {
                            to,
                            amount,
                            memo: Bytes::from(memo),
                        }
                    };
                    Ok(Step {
                        signer,
                        payload: payload(operation.encode())?,
                        flow: None,
                    })
                })
                .collect(),
            Planner::Provenance(flows) => flows.block(rng, n),
            Planner::Claims(flows) => flows.block(rng, n),
        }
    }

    /// A step, signed by `signer`, whose payload the application rejects
    /// whoever signs it.
    fn rejected(
        &self,
        rng: &mut ChaCha20Rng,
        publics: &[PublicKey],
        signer: usize,
    ) -> Result<Step, String> {
        let encoded = match self {
            // No balance reaches u64::MAX: the total supply is
            // accounts × GENESIS_BALANCE.
            Planner::Transfers { .. } => transfers::Operation::Transfer {
                to: publics[rng.random_range(1..publics.len())],
                amount: u64::MAX,
            }
            .encode(),
            // A random 256-bit need id names no need.
            Planner::Provenance(_) => provenance::Operation::Pledge {
                need: Hash(rng.random()),
                quantity: 1,
            }
            .encode(),
            // A random 256-bit attestation id names no attestation.
            Planner::Claims(flows) => claims::Operation::File {
                attestation: Hash(rng.random()),
                policy: flows.policy,
                amount: 1,
            }
            .encode(),
        };
        Ok(Step {
            signer,
            payload: payload(encoded)?,
            flow: None,
        })
    }

    /// Learns the ids of the block's transactions (need and shipment ids).
    fn signed(&mut self, flows_of: &[Option<usize>], txs: &[Transaction]) {
        match self {
            Planner::Provenance(flows) => flows.signed(flows_of, txs),
            Planner::Claims(flows) => flows.signed(flows_of, txs),
            Planner::Transfers { .. } => {}
        }
    }
}

/// Where a donation flow is: the step it takes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Publish,
    Pledge,
    Ship,
    HandToCarrier,
    CarrierAccepts,
    HandToOrganisation,
    OrganisationAccepts,
    Delivered,
}

#[derive(Clone, Debug)]
struct Flow {
    organisation: usize,
    donor: usize,
    carrier: usize,
    quantity: u64,
    stage: Stage,
    need: Hash,
    shipment: Hash,
}

/// The provenance planner: flows advanced one step per block each.
struct Flows {
    flows: Vec<Flow>,
    organisations: usize,
    accounts: usize,
    publics: Vec<PublicKey>,
}

impl Flows {
    fn new(options: &WorkloadOptions, publics: &[PublicKey], rng: &mut ChaCha20Rng) -> Self {
        let accounts = options.accounts as usize;
        let organisations = (accounts / 4).max(1);
        let mut flows = Flows {
            flows: Vec::new(),
            organisations,
            accounts,
            publics: publics.to_vec(),
        };
        flows.flows = (0..options.txs_per_block as usize)
            .map(|_| flows.fresh(rng))
            .collect();
        flows
    }

    /// A new flow with random participants: signer indices 1..=organisations
    /// are organisations, the rest donors and carriers.
    fn fresh(&self, rng: &mut ChaCha20Rng) -> Flow {
        let organisation = rng.random_range(1..=self.organisations);
        let others = (self.organisations + 1)..=self.accounts;
        let (donor, carrier) = if others.is_empty() {
            (organisation, organisation)
        } else {
            (
                rng.random_range(others.clone()),
                rng.random_range(others.clone()),
            )
        };
        Flow {
            organisation,
            donor,
            carrier,
            quantity: rng.random_range(1..10_000),
            stage: Stage::Publish,
            need: Hash::ZERO,
            shipment: Hash::ZERO,
        }
    }

    fn public(&self, index: usize) -> PublicKey {
        self.publics
            .get(index)
            .copied()
            .unwrap_or(PublicKey([0; 32]))
    }

    fn genesis(&mut self, publics: &[PublicKey]) -> Result<Vec<Step>, String> {
        (1..=self.organisations)
            .filter_map(|index| publics.get(index))
            .map(|organisation| {
                let register = provenance::Operation::RegisterOrganisation {
                    organisation: *organisation,
                    name: format!("org-{}", &hex_prefix(&organisation.0)),
                };
                Ok(Step {
                    signer: 0,
                    payload: payload(register.encode())?,
                    flow: None,
                })
            })
            .collect()
    }

    /// `n` steps, each advancing a different flow (so that a step never
    /// needs an id made in the same block), in a random order.
    fn block(&mut self, rng: &mut ChaCha20Rng, n: usize) -> Result<Vec<Step>, String> {
        let count = n.min(self.flows.len());
        // Partial Fisher-Yates over the flow indices.
        let mut order: Vec<usize> = (0..self.flows.len()).collect();
        for i in 0..count {
            let j = rng.random_range(i..order.len());
            order.swap(i, j);
        }
        order.truncate(count);
        let mut steps = Vec::with_capacity(count);
        for index in order {
            if self.flows[index].stage == Stage::Delivered {
                self.flows[index] = self.fresh(rng);
            }
            let flow = &self.flows[index];
            let hand_over = |from: usize, to: usize| {
                let operation = provenance::Operation::HandOver {
                    shipment: flow.shipment,
                    to: self.public(to),
                    quantity: flow.quantity,
                };
                (from, operation)
            };
            let accept = |by: usize| {
                let operation = provenance::Operation::Accept {
                    shipment: flow.shipment,
                    quantity: flow.quantity,
                };
                (by, operation)
            };
            let (signer, operation) = match flow.stage {
                Stage::Publish => (
                    flow.organisation,
                    provenance::Operation::PublishNeed {
                        item: "masks (box of 50)".into(),
                        quantity: flow.quantity,
                        destination: "clinic".into(),
                    },
                ),
                Stage::Pledge => (
                    flow.donor,
                    provenance::Operation::Pledge {
                        need: flow.need,
                        quantity: flow.quantity,
                    },
                ),
                Stage::Ship => (
                    flow.donor,
                    provenance::Operation::Ship {
                        need: flow.need,
                        quantity: flow.quantity,
                    },
                ),
                Stage::HandToCarrier => hand_over(flow.donor, flow.carrier),
                Stage::CarrierAccepts => accept(flow.carrier),
                Stage::HandToOrganisation => hand_over(flow.carrier, flow.organisation),
                Stage::OrganisationAccepts | Stage::Delivered => accept(flow.organisation),
            };
            steps.push(Step {
                signer,
                payload: payload(operation.encode())?,
                flow: Some(index),
            });
        }
        Ok(steps)
    }

    /// Advances each flow a signed transaction stepped, recording the ids
    /// that name its need and its shipment.
    fn signed(&mut self, flows_of: &[Option<usize>], txs: &[Transaction]) {
        for (flow, tx) in flows_of.iter().zip(txs) {
            let Some(flow) = flow.and_then(|index| self.flows.get_mut(index)) else {
                continue;
            };
            flow.stage = match flow.stage {
                Stage::Publish => {
                    flow.need = tx.id();
                    Stage::Pledge
                }
                Stage::Pledge => Stage::Ship,
                Stage::Ship => {
                    flow.shipment = tx.id();
                    Stage::HandToCarrier
                }
                Stage::HandToCarrier => Stage::CarrierAccepts,
                Stage::CarrierAccepts => Stage::HandToOrganisation,
                Stage::HandToOrganisation => Stage::OrganisationAccepts,
                Stage::OrganisationAccepts | Stage::Delivered => Stage::Delivered,
            };
        }
    }
}

/// Where a claim flow is: the step it takes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClaimStage {
    Enrol,
    Attest,
    File,
    Approve,
    Pay,
    Paid,
}

#[derive(Clone, Debug)]
struct ClaimFlow {
    member: usize,
    event: u64,
    stage: ClaimStage,
    attestation: Hash,
    claim: Hash,
    amount: u64,
}

/// The claims planner: flows advanced one step per block each.
struct ClaimFlows {
    flows: Vec<ClaimFlow>,
    accounts: usize,
    publics: Vec<PublicKey>,
    issuer: TagIssuer,
    /// The policy's id, learned when genesis is signed.
    policy: Hash,
    /// Members with an enrolment planned (each enrols once).
    enrolled: Vec<bool>,
    /// The next event's number: every event is new, and so is its tag.
    next_event: u64,
    /// Blocks planned so far (the block time follows from it).
    height: u64,
}

/// The insurer's and the clinic's signer indices.
const INSURER: usize = 1;
const CLINIC: usize = 2;
/// The marker of the genesis step that publishes the policy.
const POLICY_STEP: usize = usize::MAX;
/// The condition the policy covers and every attestation names.
const CONDITION: u32 = 1;

impl ClaimFlows {
    fn new(options: &WorkloadOptions, publics: &[PublicKey]) -> Result<Self, String> {
        let accounts = options.accounts as usize;
        let issuer = TagIssuer::from_seed(&[0x7a; 32]).map_err(|e| e.to_string())?;
        // Flows start paid, so that each is given its member when it is
        // first stepped (an enrolment is always in the block that plans it).
        let flows = (0..options.txs_per_block)
            .map(|_| ClaimFlow {
                member: 0,
                event: 0,
                stage: ClaimStage::Paid,
                attestation: Hash::ZERO,
                claim: Hash::ZERO,
                amount: 0,
            })
            .collect();
        Ok(ClaimFlows {
            flows,
            accounts,
            publics: publics.to_vec(),
            issuer,
            policy: Hash::ZERO,
            enrolled: vec![false; accounts + 1],
            next_event: 0,
            height: 0,
        })
    }

    fn public(&self, index: usize) -> PublicKey {
        self.publics
            .get(index)
            .copied()
            .unwrap_or(PublicKey([0; 32]))
    }

    fn genesis(&mut self) -> Result<Vec<Step>, String> {
        let admit = |role, index| claims::Operation::AdmitParty {
            role,
            party: self.public(index),
            name: format!("{role:?}"),
        };
        let operations = [
            (0, admit(claims::Role::Insurer, INSURER), None),
            (0, admit(claims::Role::Clinic, CLINIC), None),
            (
                0,
                claims::Operation::AdmitTagIssuer {
                    issuer: self.issuer.public_key(),
                    name: "tag issuer".into(),
                },
                None,
            ),
            (
                INSURER,
                claims::Operation::PublishPolicy {
                    max_payout: 10_000,
                    waiting_period_ms: 0,
                    valid_from_ms: 0,
                    valid_until_ms: u64::MAX,
                    conditions: std::collections::BTreeSet::from([CONDITION]),
                },
                Some(POLICY_STEP),
            ),
        ];
        operations
            .into_iter()
            .map(|(signer, operation, flow)| {
                Ok(Step {
                    signer,
                    payload: payload(operation.encode())?,
                    flow,
                })
            })
            .collect()
    }

    /// A new flow: a random member (enrolling first if it never did) and a
    /// new event.
    fn fresh(&mut self, rng: &mut ChaCha20Rng) -> ClaimFlow {
        let member = rng.random_range(CLINIC + 1..=self.accounts);
        let stage = match self.enrolled.get_mut(member) {
            Some(enrolled) if !*enrolled => {
                *enrolled = true;
                ClaimStage::Enrol
            }
            _ => ClaimStage::Attest,
        };
        self.next_event += 1;
        ClaimFlow {
            member,
            event: self.next_event,
            stage,
            attestation: Hash::ZERO,
            claim: Hash::ZERO,
            amount: rng.random_range(1..=10_000),
        }
    }

    /// `n` steps, each advancing a different flow, in a random order.
    fn block(&mut self, rng: &mut ChaCha20Rng, n: usize) -> Result<Vec<Step>, String> {
        self.height += 1;
        let now_ms = GENESIS_TIME_MS + self.height * 1_000;
        let count = n.min(self.flows.len());
        let mut order: Vec<usize> = (0..self.flows.len()).collect();
        for i in 0..count {
            let j = rng.random_range(i..order.len());
            order.swap(i, j);
        }
        order.truncate(count);
        let mut steps = Vec::with_capacity(count);
        for index in order {
            if self.flows.get(index).map(|flow| flow.stage) == Some(ClaimStage::Paid) {
                let fresh = self.fresh(rng);
                if let Some(flow) = self.flows.get_mut(index) {
                    *flow = fresh;
                }
            }
            let Some(flow) = self.flows.get(index) else {
                continue;
            };
            let (signer, operation) = match flow.stage {
                ClaimStage::Enrol => (
                    flow.member,
                    claims::Operation::Enrol {
                        policy: self.policy,
                    },
                ),
                ClaimStage::Attest => {
                    let patient = self.public(flow.member);
                    let input = TagInput::claim_event(&patient.0, &flow.event.to_le_bytes())
                        .map_err(|e| e.to_string())?;
                    let tag = self.issuer.tag_of(&input).map_err(|e| e.to_string())?;
                    (
                        CLINIC,
                        claims::Operation::Attest {
                            member: patient,
                            condition: CONDITION,
                            // The event is dated at the attestation's block:
                            // never before the member's enrolment.
                            event_date_ms: now_ms,
                            details: Hash(*blake3::hash(&flow.event.to_le_bytes()).as_bytes()),
                            issuer: self.issuer.public_key(),
                            tag,
                        },
                    )
                }
                ClaimStage::File => (
                    flow.member,
                    claims::Operation::File {
                        attestation: flow.attestation,
                        policy: self.policy,
                        amount: flow.amount,
                    },
                ),
                ClaimStage::Approve => (
                    INSURER,
                    claims::Operation::Approve {
                        claim: flow.claim,
                        amount: flow.amount,
                    },
                ),
                ClaimStage::Pay | ClaimStage::Paid => (
                    INSURER,
                    claims::Operation::Pay {
                        claim: flow.claim,
                        amount: flow.amount,
                        reference: Hash(*blake3::hash(flow.claim.as_bytes()).as_bytes()),
                    },
                ),
            };
            steps.push(Step {
                signer,
                payload: payload(operation.encode())?,
                flow: Some(index),
            });
        }
        Ok(steps)
    }

    /// Advances each flow a signed transaction stepped, recording the ids
    /// of its attestation and its claim (and, at genesis, the policy's).
    fn signed(&mut self, flows_of: &[Option<usize>], txs: &[Transaction]) {
        for (flow, tx) in flows_of.iter().zip(txs) {
            if *flow == Some(POLICY_STEP) {
                self.policy = tx.id();
                continue;
            }
            let Some(flow) = flow.and_then(|index| self.flows.get_mut(index)) else {
                continue;
            };
            flow.stage = match flow.stage {
                ClaimStage::Enrol => ClaimStage::Attest,
                ClaimStage::Attest => {
                    flow.attestation = tx.id();
                    ClaimStage::File
                }
                ClaimStage::File => {
                    flow.claim = tx.id();
                    ClaimStage::Approve
                }
                ClaimStage::Approve => ClaimStage::Pay,
                ClaimStage::Pay | ClaimStage::Paid => ClaimStage::Paid,
            };
        }
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::Block;

    fn options(kind: WorkloadKind) -> WorkloadOptions {
        WorkloadOptions {
            kind,
            accounts: 40,
            txs_per_block: 30,
            blocks: 9,
            payload_bytes: None,
            invalid_share: 0.0,
            seed: 7,
        }
    }

    fn decode(workload: &Workload) -> Vec<Block> {
        workload
            .blocks
            .iter()
            .map(|bytes| Block::decode(bytes).unwrap())
            .collect()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = generate(&options(WorkloadKind::Transfers), |_, _| {}).unwrap();
        let b = generate(&options(WorkloadKind::Transfers), |_, _| {}).unwrap();
        assert_eq!(a.blocks, b.blocks);
        let mut other = options(WorkloadKind::Transfers);
        other.seed = 8;
        assert_ne!(generate(&other, |_, _| {}).unwrap().blocks, a.blocks);
    }

    #[test]
    fn accounts_beyond_one_setup_block_are_funded_in_several() {
        let mut opts = options(WorkloadKind::Transfers);
        // One mint per account: one more than a setup block holds.
        opts.accounts = SETUP_TXS_PER_BLOCK as u32 + 1;
        opts.blocks = 1;
        opts.txs_per_block = 10;
        let workload = generate(&opts, |_, _| {}).unwrap();
        assert_eq!(workload.setup_blocks, 2);
        let blocks = decode(&workload);
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].transactions().len(), SETUP_TXS_PER_BLOCK);
        assert_eq!(blocks[1].transactions().len(), 1);
        assert_eq!(blocks[2].transactions().len(), 10);
        // 40 accounts: one setup block.
        assert_eq!(
            generate(&options(WorkloadKind::Transfers), |_, _| {})
                .unwrap()
                .setup_blocks,
            1
        );
    }

    #[test]
    fn memos_reach_the_payload_size_and_rejections_fail() {
        let mut opts = options(WorkloadKind::Transfers);
        opts.payload_bytes = Some(200);
        opts.invalid_share = 0.1;
        // `generate` itself checks that exactly the planned transactions
        // failed when the proposer applied each block.
        let workload = generate(&opts, |_, _| {}).unwrap();
        assert_eq!(workload.invalid_txs, 9 * 3);
        for block in decode(&workload).iter().skip(1) {
            assert_eq!(block.transactions().len(), 30);
            let memos = block
                .transactions()
                .iter()
                .filter(|tx| tx.payload().len() == 200)
                .count();
            assert_eq!(memos, 27);
        }
    }

    #[test]
    fn provenance_flows_run_to_delivery() {
        let mut opts = options(WorkloadKind::Provenance);
        opts.invalid_share = 0.1;
        // Nine blocks take every flow through its seven steps (one step per
        // block); `generate` fails if any planned step failed.
        let workload = generate(&opts, |_, _| {}).unwrap();
        let blocks = decode(&workload);
        assert_eq!(
            blocks[0].transactions().len(),
            10,
            "a quarter of 40 registered"
        );
        let accepts = blocks
            .iter()
            .flat_map(|block| block.transactions())
            .filter(|tx| {
                matches!(
                    provenance::Operation::decode(tx.payload()),
                    Some(provenance::Operation::Accept { .. })
                )
            })
            .count();
        assert!(accepts > 0, "some shipments changed hands");
    }

    #[test]
    fn claim_flows_run_to_payment() {
        let mut opts = options(WorkloadKind::Claims);
        opts.invalid_share = 0.1;
        // `generate` fails if any planned step failed: enrolments, tags,
        // filings, approvals and payments all pass the application's rules.
        let workload = generate(&opts, |_, _| {}).unwrap();
        let blocks = decode(&workload);
        assert_eq!(blocks[0].transactions().len(), 4);
        let operations: Vec<claims::Operation> = blocks
            .iter()
            .flat_map(|block| block.transactions())
            .filter_map(|tx| claims::Operation::decode(tx.payload()))
            .collect();
        let paid = operations
            .iter()
            .filter(|op| matches!(op, claims::Operation::Pay { .. }))
            .count();
        assert!(paid > 0, "some claims were paid");
        let tags: std::collections::BTreeSet<claims::Tag> = operations
            .iter()
            .filter_map(|op| match op {
                claims::Operation::Attest { tag, .. } => Some(*tag),
                _ => None,
            })
            .collect();
        let attestations = operations
            .iter()
            .filter(|op| matches!(op, claims::Operation::Attest { .. }))
            .count();
        assert_eq!(tags.len(), attestations, "every event has its own tag");
        let mut claims = options(WorkloadKind::Claims);
        claims.accounts = 2;
        assert!(claims.check().is_err());
    }

    #[test]
    fn options_are_checked_at_their_bounds() {
        let mut opts = options(WorkloadKind::Transfers);
        for (share, ok) in [(0.0, true), (1.0, true), (-0.01, false), (1.01, false)] {
            opts.invalid_share = share;
            assert_eq!(opts.check().is_ok(), ok, "share {share}");
        }
        opts.invalid_share = 0.0;
        let max = transfers::PAYLOAD_BYTES + transfers::MAX_MEMO_BYTES;
        for (bytes, ok) in [(40, false), (41, true), (max, true), (max + 1, false)] {
            opts.payload_bytes = Some(bytes);
            assert_eq!(opts.check().is_ok(), ok, "payload {bytes}");
        }
        let mut provenance = options(WorkloadKind::Provenance);
        provenance.payload_bytes = Some(100);
        assert!(provenance.check().is_err());
        provenance.payload_bytes = None;
        provenance.accounts = 1;
        assert!(provenance.check().is_err());
        provenance.accounts = 2;
        assert!(provenance.check().is_ok());
        provenance.blocks = 0;
        assert!(provenance.check().is_err());
    }
}
