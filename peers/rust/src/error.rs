//! Typed rejections, one per error kind of the peer protocol
//! (docs/peer-protocol.md); every rejection names the clause it enforces.

use std::fmt;

/// The protocol's error kinds, as the peer SDK (peers/sdk/rust) spells them:
/// every rejection of the port is answered with its kind unchanged.
pub use vgis_peer::Kind;

/// A rejection: its kind, the spec clause (or "-"), and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VgisError {
    pub kind: Kind,
    pub clause: &'static str,
    pub message: String,
}

impl VgisError {
    pub fn new(kind: Kind, clause: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            clause,
            message: message.into(),
        }
    }
}

impl fmt::Display for VgisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.clause, self.message)
    }
}

impl std::error::Error for VgisError {}

pub type Result<T> = std::result::Result<T, VgisError>;

macro_rules! constructor {
    ($name:ident, $kind:ident) => {
        pub fn $name(clause: &'static str, message: impl Into<String>) -> VgisError {
            VgisError::new(Kind::$kind, clause, message)
        }
    };
}

constructor!(bad_header, BadHeader);
constructor!(bad_name, BadName);
constructor!(out_of_bounds, OutOfBounds);
constructor!(bad_pointer, BadPointer);
constructor!(no_allocation, NoAllocation);
constructor!(ipc_error, IpcError);
constructor!(schema_mismatch, SchemaMismatch);
constructor!(bad_request, BadRequest);
constructor!(unsupported, Unsupported);
constructor!(internal, Internal);
