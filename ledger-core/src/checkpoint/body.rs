//! Checkpoint bodies (c2sp.org/tlog-checkpoint): the note text
//!
//! ```text
//! <origin>
//! <tree size in decimal, no leading zeros>
//! <base64 of the 32-byte root hash>
//! [<extension line>...]
//! ```
//!
//! every line non-empty and ending in a newline.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::note::{check_note_bytes, NoteError};

/// Why a checkpoint body was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointBodyError {
    /// The text breaks the note text rules (size, UTF-8, control
    /// characters).
    #[error("not note text: {0}")]
    Text(NoteError),
    /// The text does not end in a newline.
    #[error("checkpoint does not end in a newline")]
    NotTerminated,
    /// Fewer than the three mandatory lines.
    #[error("checkpoint has {lines} lines, needs at least 3")]
    TooFewLines {
        /// How many lines there are.
        lines: usize,
    },
    /// A line is empty (origin, tree size, root hash and extension lines
    /// must all be non-empty).
    #[error("line {line} is empty")]
    EmptyLine {
        /// Its number, from 1.
        line: usize,
    },
    /// The origin or an extension line holds a newline (when building).
    #[error("origin or extension line holds a newline")]
    NewlineInLine,
    /// The tree size is not a decimal `u64` without leading zeros.
    #[error("tree size is not a decimal u64 without leading zeros")]
    BadTreeSize,
    /// The root hash is not canonical base64 of 32 bytes.
    #[error("root hash is not canonical base64 of 32 bytes")]
    BadRootHash,
}

/// A checkpoint: a log's origin, tree size and root hash, and optional
/// extension lines. Every `Checkpoint` is valid: it encodes to a text that
/// [`Checkpoint::parse`] gives back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root_hash: [u8; 32],
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    ///
    /// # Errors
    /// An origin that is empty or not valid note text on one line.
    pub fn new(origin: &str, size: u64, root_hash: [u8; 32]) -> Result<Self, CheckpointBodyError> {
        Self::with_extensions(origin, size, root_hash, Vec::new())
    }

    /// A checkpoint with extension lines (not recommended by the
    /// specification: monitors cannot audit them).
    ///
    /// # Errors
    /// An empty origin or extension line, one holding a newline, or a text
    /// beyond the note limits.
    pub fn with_extensions(
        origin: &str,
        size: u64,
        root_hash: [u8; 32],
        extensions: Vec<String>,
    ) -> Result<Self, CheckpointBodyError> {
        let lines = std::iter::once(origin).chain(extensions.iter().map(String::as_str));
        for (index, line) in lines.enumerate() {
            if line.contains('\n') {
                return Err(CheckpointBodyError::NewlineInLine);
            }
            if line.is_empty() {
                let line = if index == 0 { 1 } else { index + 3 };
                return Err(CheckpointBodyError::EmptyLine { line });
            }
        }
        let checkpoint = Self {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        };
        check_note_bytes(checkpoint.to_text().as_bytes()).map_err(CheckpointBodyError::Text)?;
        Ok(checkpoint)
    }

    /// Parses a checkpoint body strictly: note text rules, at least three
    /// non-empty lines, each ending in a newline, a canonical tree size and
    /// a canonical base64 root hash of 32 bytes.
    ///
    /// # Errors
    /// The first rule the text breaks.
    pub fn parse(text: &[u8]) -> Result<Self, CheckpointBodyError> {
        let text = check_note_bytes(text).map_err(CheckpointBodyError::Text)?;
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointBodyError::NotTerminated)?;
        let lines: Vec<&str> = body.split('\n').collect();
        if let Some(index) = lines.iter().position(|line| line.is_empty()) {
            return Err(CheckpointBodyError::EmptyLine { line: index + 1 });
        }
        let [origin, size, root_hash, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointBodyError::TooFewLines { lines: lines.len() });
        };
        Ok(Self {
            origin: (*origin).to_owned(),
            size: parse_tree_size(size)?,
            root_hash: parse_root_hash(root_hash)?,
            extensions: extensions.iter().map(|line| (*line).to_owned()).collect(),
        })
    }

    /// The origin line: the log's identity.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size: how many leaves the tree has.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash of the tree at that size.
    pub fn root_hash(&self) -> &[u8; 32] {
        &self.root_hash
    }

    /// The extension lines, without their newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The checkpoint body: the note text to sign.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root_hash)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

fn parse_tree_size(line: &str) -> Result<u64, CheckpointBodyError> {
    let canonical =
        line.bytes().all(|b| b.is_ascii_digit()) && (line == "0" || !line.starts_with('0'));
    if !canonical {
        return Err(CheckpointBodyError::BadTreeSize);
    }
    line.parse().map_err(|_| CheckpointBodyError::BadTreeSize)
}

fn parse_root_hash(line: &str) -> Result<[u8; 32], CheckpointBodyError> {
    // 32 bytes are 44 base64 characters; refuse anything else before
    // decoding.
    if line.len() != 44 {
        return Err(CheckpointBodyError::BadRootHash);
    }
    let mut hash = [0u8; 32];
    match BASE64.decode_slice(line, &mut hash) {
        Ok(32) => Ok(hash),
        _ => Err(CheckpointBodyError::BadRootHash),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_NOTE_BYTES;

    const SOFA: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn spec_example_parses_and_round_trips() {
        let checkpoint = Checkpoint::parse(SOFA.as_bytes()).unwrap();
        assert_eq!(checkpoint.origin(), "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size(), 20_852_163);
        assert_eq!(
            BASE64.encode(checkpoint.root_hash()),
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
        );
        assert!(checkpoint.extensions().is_empty());
        assert_eq!(checkpoint.to_text(), SOFA);
        let built =
            Checkpoint::new(checkpoint.origin(), 20_852_163, *checkpoint.root_hash()).unwrap();
        assert_eq!(built, checkpoint);
    }

    #[test]
    fn extensions_round_trip() {
        let text = format!("{SOFA}ext one\n\u{2603}\n");
        let checkpoint = Checkpoint::parse(text.as_bytes()).unwrap();
        assert_eq!(checkpoint.extensions(), ["ext one", "\u{2603}"]);
        assert_eq!(checkpoint.to_text(), text);
    }

    #[test]
    fn tree_size_rules() {
        let with_size = |size: &str| {
            Checkpoint::parse(
                format!("o\n{size}\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n").as_bytes(),
            )
            .map(|c| c.size())
        };
        assert_eq!(with_size("0"), Ok(0));
        assert_eq!(with_size("18446744073709551615"), Ok(u64::MAX));
        for bad in [
            "00",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "18446744073709551616",
            "1e3",
            "٣",
        ] {
            assert_eq!(
                with_size(bad),
                Err(CheckpointBodyError::BadTreeSize),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn root_hash_rules() {
        let with_hash = |hash: &str| Checkpoint::parse(format!("o\n1\n{hash}\n").as_bytes());
        assert!(with_hash("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=").is_ok());
        for bad in [
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I", // no padding
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=", // trailing bits set
            "CsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=", // URL alphabet
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I==", // 33 chars of data
            "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2Ia", // 33 bytes
            "AAAA",
        ] {
            assert_eq!(
                with_hash(bad).unwrap_err(),
                CheckpointBodyError::BadRootHash,
                "{bad}"
            );
        }
    }

    #[test]
    fn line_rules() {
        use CheckpointBodyError as E;
        assert_eq!(
            Checkpoint::parse(b"o\n1\n").unwrap_err(),
            E::TooFewLines { lines: 2 }
        );
        assert_eq!(
            Checkpoint::parse(SOFA.trim_end().as_bytes()).unwrap_err(),
            E::NotTerminated
        );
        assert_eq!(
            Checkpoint::parse(format!("{SOFA}\n").as_bytes()).unwrap_err(),
            E::EmptyLine { line: 4 }
        );
        assert_eq!(
            Checkpoint::parse(format!("\n{SOFA}").as_bytes()).unwrap_err(),
            E::EmptyLine { line: 1 }
        );
        assert_eq!(
            Checkpoint::parse(b"\n").unwrap_err(),
            E::EmptyLine { line: 1 }
        );
        assert_eq!(Checkpoint::parse(b"").unwrap_err(), E::NotTerminated);
        assert!(matches!(
            Checkpoint::parse(SOFA.replace("sofa", "so\rfa").as_bytes()),
            Err(E::Text(NoteError::ControlCharacter { .. }))
        ));
        assert!(matches!(
            Checkpoint::parse(b"o\xff\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"),
            Err(E::Text(NoteError::NotUtf8))
        ));
        assert_eq!(
            Checkpoint::new("", 1, [0; 32]).unwrap_err(),
            E::EmptyLine { line: 1 }
        );
        assert_eq!(
            Checkpoint::new("a\nb", 1, [0; 32]).unwrap_err(),
            E::NewlineInLine
        );
        assert_eq!(
            Checkpoint::with_extensions("o", 1, [0; 32], vec!["x".into(), String::new()])
                .unwrap_err(),
            E::EmptyLine { line: 5 }
        );
        assert!(matches!(
            Checkpoint::new("o\u{7}", 1, [0; 32]).unwrap_err(),
            E::Text(NoteError::ControlCharacter { offset: 1 })
        ));
    }

    #[test]
    fn size_limit_boundary() {
        // "o…\n1\n" + 44-character hash + "\n": the origin fills the rest.
        let fixed = 1 + 2 + 44 + 1;
        let origin = "o".repeat(MAX_NOTE_BYTES - fixed);
        let at_limit = Checkpoint::new(&origin, 1, [0; 32]).unwrap();
        assert_eq!(at_limit.to_text().len(), MAX_NOTE_BYTES);
        assert_eq!(
            Checkpoint::parse(at_limit.to_text().as_bytes()).unwrap(),
            at_limit
        );
        let over = format!("o{origin}");
        assert!(matches!(
            Checkpoint::new(&over, 1, [0; 32]),
            Err(CheckpointBodyError::Text(NoteError::TooLarge { .. }))
        ));
        let mut text = at_limit.to_text().into_bytes();
        text.insert(0, b'o');
        assert!(matches!(
            Checkpoint::parse(&text),
            Err(CheckpointBodyError::Text(NoteError::TooLarge { .. }))
        ));
    }
}
