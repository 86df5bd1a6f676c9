//! Trust policies (c2sp.org/tlog-policy): which logs are trusted, which
//! witnesses, and the quorum of witness cosignatures a checkpoint needs.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! Items are separated by spaces and tabs; blank lines and lines starting
//! with `#` are ignored. A group or the quorum may only name witnesses and
//! groups defined on earlier lines, which rules out cycles and lets
//! [`Policy::evaluate`] decide every group in definition order. Names are
//! opaque octet strings. A final line without its newline is accepted.
//!
//! Logs must be Ed25519 note keys (type `0x01`) and witnesses
//! `cosignature/v1` keys (type `0x04`); a policy naming another type is
//! refused rather than silently weakened.

use std::collections::BTreeMap;

use super::keys::{NoteKeyError, SignatureType, VerifierKey};
use crate::limits::{MAX_POLICY_BYTES, MAX_POLICY_GROUPS, MAX_POLICY_LOGS, MAX_POLICY_WITNESSES};

/// What is wrong with a policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// The policy is larger than [`MAX_POLICY_BYTES`].
    #[error("policy of {len} bytes exceeds the limit of {MAX_POLICY_BYTES}")]
    TooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// A byte outside tab, newline, 0x20–0x7E and 0x80–0xFF.
    #[error("forbidden byte 0x{byte:02x}")]
    ForbiddenByte {
        /// The byte.
        byte: u8,
    },
    /// The line starts with a word other than `log`, `witness`, `group`,
    /// `quorum`.
    #[error("unknown keyword")]
    UnknownKeyword,
    /// The line has too few or too many items.
    #[error("wrong number of items")]
    WrongItemCount,
    /// A vkey is not valid.
    #[error("bad vkey: {0}")]
    BadKey(NoteKeyError),
    /// A vkey is of a signature type the line cannot use.
    #[error("key of type {found:?} where {expected:?} is needed")]
    WrongKeyType {
        /// The type the line needs.
        expected: SignatureType,
        /// The key's type.
        found: SignatureType,
    },
    /// Two logs, or two witnesses, wrap the same public key.
    #[error("duplicate public key")]
    DuplicateKey,
    /// The name of a witness or group is already defined (or is `none`).
    #[error("name {0:?} is already defined")]
    DuplicateName(String),
    /// A group member or the quorum names no earlier witness or group.
    #[error("unknown witness or group {0:?}")]
    UnknownName(String),
    /// `none` is listed as a group member.
    #[error("'none' cannot be a group member")]
    NoneAsMember,
    /// A name is listed twice in one group.
    #[error("member {0:?} listed twice")]
    DuplicateMember(String),
    /// The threshold is not `all`, `any` or a decimal k with 1 ≤ k ≤ n.
    #[error("threshold is not all, any, or k with 1 <= k <= members")]
    BadThreshold,
    /// More logs than [`MAX_POLICY_LOGS`].
    #[error("more than {MAX_POLICY_LOGS} logs")]
    TooManyLogs,
    /// More witnesses than [`MAX_POLICY_WITNESSES`].
    #[error("more than {MAX_POLICY_WITNESSES} witnesses")]
    TooManyWitnesses,
    /// More groups than [`MAX_POLICY_GROUPS`].
    #[error("more than {MAX_POLICY_GROUPS} groups")]
    TooManyGroups,
    /// A second `quorum` line.
    #[error("more than one quorum line")]
    DuplicateQuorum,
    /// No `quorum` line.
    #[error("no quorum line")]
    MissingQuorum,
}

/// Why a policy was refused, and on which line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("policy line {line}: {kind}")]
pub struct PolicyError {
    /// The line, from 1 (0 for the whole policy: size, missing quorum).
    pub line: usize,
    /// What is wrong.
    pub kind: PolicyErrorKind,
}

/// A witness or group of a policy, by its index in
/// [`Policy::witnesses`] or [`Policy::groups`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyRef {
    /// The witness at this index.
    Witness(usize),
    /// The group at this index.
    Group(usize),
}

/// A trusted log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    /// Its key; the key name is the log's origin.
    pub key: VerifierKey,
    /// Its URL, if given (opaque bytes).
    pub url: Option<Vec<u8>>,
}

/// A witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name in the policy (opaque bytes, not the key name).
    pub name: Vec<u8>,
    /// Its `cosignature/v1` key.
    pub key: VerifierKey,
    /// Its URL, if given (opaque bytes).
    pub url: Option<Vec<u8>>,
}

/// A witness group: satisfied when at least `threshold` members are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGroup {
    /// Its name (opaque bytes).
    pub name: Vec<u8>,
    /// How many members must be satisfied, 1 ≤ threshold ≤ members.
    pub threshold: usize,
    /// Its members, each defined before the group.
    pub members: Vec<PolicyRef>,
}

/// Why a quorum is not met: the quorum's witness or group, how many of its
/// members are satisfied and how many are needed, and which are not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumFailure {
    /// The witness or group the quorum line names.
    pub name: String,
    /// Members needed (1 for a single witness).
    pub required: usize,
    /// Members satisfied.
    pub satisfied: usize,
    /// The members (or the witness) not satisfied, by name.
    pub missing: Vec<String>,
}

/// A parsed trust policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    quorum: Option<PolicyRef>,
}

fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn parse_key(item: &[u8], expected: SignatureType) -> Result<VerifierKey, PolicyErrorKind> {
    let text =
        std::str::from_utf8(item).map_err(|_| PolicyErrorKind::BadKey(NoteKeyError::Malformed))?;
    let key = VerifierKey::parse(text).map_err(PolicyErrorKind::BadKey)?;
    if key.signature_type() != expected {
        return Err(PolicyErrorKind::WrongKeyType {
            expected,
            found: key.signature_type(),
        });
    }
    Ok(key)
}

fn parse_threshold(item: &[u8], members: usize) -> Result<usize, PolicyErrorKind> {
    let k = match item {
        b"all" => members,
        b"any" => 1,
        digits
            if !digits.is_empty()
                && digits.len() <= 20
                && digits.iter().all(u8::is_ascii_digit) =>
        {
            std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<usize>().ok())
                .ok_or(PolicyErrorKind::BadThreshold)?
        }
        _ => return Err(PolicyErrorKind::BadThreshold),
    };
    if (1..=members).contains(&k) {
        Ok(k)
    } else {
        Err(PolicyErrorKind::BadThreshold)
    }
}

/// The policy under construction, with the names defined so far.
#[derive(Default)]
struct Builder<'a> {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    quorum: Option<Option<PolicyRef>>,
    names: BTreeMap<&'a [u8], PolicyRef>,
}

impl<'a> Builder<'a> {
    fn define(&mut self, name: &'a [u8], target: PolicyRef) -> Result<(), PolicyErrorKind> {
        if name == b"none" || self.names.contains_key(name) {
            return Err(PolicyErrorKind::DuplicateName(lossy(name)));
        }
        self.names.insert(name, target);
        Ok(())
    }

    fn lookup(&self, name: &[u8]) -> Result<PolicyRef, PolicyErrorKind> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| PolicyErrorKind::UnknownName(lossy(name)))
    }

    fn line(&mut self, items: &[&'a [u8]]) -> Result<(), PolicyErrorKind> {
        let url = |item: Option<&&[u8]>| item.map(|u| u.to_vec());
        match items {
            [b"log", rest @ ..] => {
                let [key, ..] = rest else {
                    return Err(PolicyErrorKind::WrongItemCount);
                };
                if rest.len() > 2 {
                    return Err(PolicyErrorKind::WrongItemCount);
                }
                if self.logs.len() == MAX_POLICY_LOGS {
                    return Err(PolicyErrorKind::TooManyLogs);
                }
                let key = parse_key(key, SignatureType::Ed25519)?;
                if self
                    .logs
                    .iter()
                    .any(|l| l.key.public_key() == key.public_key())
                {
                    return Err(PolicyErrorKind::DuplicateKey);
                }
                self.logs.push(PolicyLog {
                    key,
                    url: url(rest.get(1)),
                });
            }
            [b"witness", rest @ ..] => {
                let [name, key, ..] = rest else {
                    return Err(PolicyErrorKind::WrongItemCount);
                };
                if rest.len() > 3 {
                    return Err(PolicyErrorKind::WrongItemCount);
                }
                if self.witnesses.len() == MAX_POLICY_WITNESSES {
                    return Err(PolicyErrorKind::TooManyWitnesses);
                }
                let key = parse_key(key, SignatureType::CosignatureV1)?;
                if self
                    .witnesses
                    .iter()
                    .any(|w| w.key.public_key() == key.public_key())
                {
                    return Err(PolicyErrorKind::DuplicateKey);
                }
                self.define(name, PolicyRef::Witness(self.witnesses.len()))?;
                self.witnesses.push(PolicyWitness {
                    name: name.to_vec(),
                    key,
                    url: url(rest.get(2)),
                });
            }
            [b"group", name, threshold, members @ ..] if !members.is_empty() => {
                if self.groups.len() == MAX_POLICY_GROUPS {
                    return Err(PolicyErrorKind::TooManyGroups);
                }
                let mut resolved: Vec<PolicyRef> = Vec::with_capacity(members.len());
                for member in members {
                    if *member == b"none" {
                        return Err(PolicyErrorKind::NoneAsMember);
                    }
                    let target = self.lookup(member)?;
                    if resolved.contains(&target) {
                        return Err(PolicyErrorKind::DuplicateMember(lossy(member)));
                    }
                    resolved.push(target);
                }
                let threshold = parse_threshold(threshold, resolved.len())?;
                self.define(name, PolicyRef::Group(self.groups.len()))?;
                self.groups.push(PolicyGroup {
                    name: name.to_vec(),
                    threshold,
                    members: resolved,
                });
            }
            [b"group", ..] => return Err(PolicyErrorKind::WrongItemCount),
            [b"quorum", name] => {
                if self.quorum.is_some() {
                    return Err(PolicyErrorKind::DuplicateQuorum);
                }
                let target = if *name == b"none" {
                    None
                } else {
                    Some(self.lookup(name)?)
                };
                self.quorum = Some(target);
            }
            [b"quorum", ..] => return Err(PolicyErrorKind::WrongItemCount),
            _ => return Err(PolicyErrorKind::UnknownKeyword),
        }
        Ok(())
    }
}

impl Policy {
    /// Parses a policy file.
    ///
    /// # Errors
    /// The first line that breaks a rule, with its number.
    pub fn parse(text: &[u8]) -> Result<Self, PolicyError> {
        let whole = |kind| PolicyError { line: 0, kind };
        if text.len() > MAX_POLICY_BYTES {
            return Err(whole(PolicyErrorKind::TooLarge { len: text.len() }));
        }
        let mut builder = Builder::default();
        let body = text.strip_suffix(b"\n").unwrap_or(text);
        for (index, line) in body.split(|&b| b == b'\n').enumerate() {
            let at = |kind| PolicyError {
                line: index + 1,
                kind,
            };
            if let Some(&byte) = line
                .iter()
                .find(|&&b| b != b'\t' && (b < 0x20 || b == 0x7f))
            {
                return Err(at(PolicyErrorKind::ForbiddenByte { byte }));
            }
            let items: Vec<&[u8]> = line
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|item| !item.is_empty())
                .collect();
            if items.first().is_none_or(|first| first.starts_with(b"#")) {
                continue;
            }
            builder.line(&items).map_err(at)?;
        }
        let quorum = builder
            .quorum
            .ok_or(whole(PolicyErrorKind::MissingQuorum))?;
        Ok(Self {
            logs: builder.logs,
            witnesses: builder.witnesses,
            groups: builder.groups,
            quorum,
        })
    }

    /// The trusted logs (may be empty: the log is then known from context).
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The witnesses, in definition order.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The groups, in definition order.
    pub fn groups(&self) -> &[PolicyGroup] {
        &self.groups
    }

    /// What the quorum line names; `None` for `quorum none`.
    pub fn quorum(&self) -> Option<PolicyRef> {
        self.quorum
    }

    /// Whether `key` is one of the policy's logs (same public key, name and
    /// type).
    pub fn has_log(&self, key: &VerifierKey) -> bool {
        self.logs.iter().any(|log| log.key == *key)
    }

    fn name_of(&self, target: PolicyRef) -> String {
        match target {
            PolicyRef::Witness(i) => self.witnesses.get(i).map(|w| lossy(&w.name)),
            PolicyRef::Group(i) => self.groups.get(i).map(|g| lossy(&g.name)),
        }
        .unwrap_or_default()
    }

    /// Decides the quorum, given which witnesses cosigned
    /// (`cosigned[i]` for `witnesses()[i]`; missing entries count as not
    /// cosigned).
    ///
    /// # Errors
    /// The quorum is not met: which group (or witness), how many of its
    /// members it needs and has, and which are missing.
    pub fn evaluate(&self, cosigned: &[bool]) -> Result<(), QuorumFailure> {
        let Some(quorum) = self.quorum else {
            return Ok(());
        };
        // Members are defined before their groups: one pass in definition
        // order decides every group.
        let mut satisfied_groups: Vec<bool> = Vec::with_capacity(self.groups.len());
        let satisfied = |target: PolicyRef, groups: &[bool]| match target {
            PolicyRef::Witness(i) => cosigned.get(i).copied().unwrap_or(false),
            PolicyRef::Group(i) => groups.get(i).copied().unwrap_or(false),
        };
        for group in &self.groups {
            let count = group
                .members
                .iter()
                .filter(|&&m| satisfied(m, &satisfied_groups))
                .count();
            satisfied_groups.push(count >= group.threshold);
        }
        if satisfied(quorum, &satisfied_groups) {
            return Ok(());
        }
        let (required, members) = match quorum {
            PolicyRef::Witness(_) => (1, vec![quorum]),
            PolicyRef::Group(i) => match self.groups.get(i) {
                Some(group) => (group.threshold, group.members.clone()),
                None => (1, Vec::new()),
            },
        };
        let (met, missing): (Vec<PolicyRef>, Vec<PolicyRef>) = members
            .into_iter()
            .partition(|&m| satisfied(m, &satisfied_groups));
        Err(QuorumFailure {
            name: self.name_of(quorum),
            required,
            satisfied: met.len(),
            missing: missing.into_iter().map(|m| self.name_of(m)).collect(),
        })
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
