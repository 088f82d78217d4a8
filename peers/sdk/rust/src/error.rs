//! Error kinds of the peer protocol, and the error every SDK call returns.
//!
//! A library's own error converts into [`Error`] with `?` (as `anyhow` does),
//! so an adapter needs no `map_err` per call: the SDK asks the backend to
//! [classify](crate::Backend::classify) it when the answer is written, which
//! is where the library's error types are known.

use std::fmt;

/// The error kinds a response may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadHeader,
    BadName,
    OutOfBounds,
    BadPointer,
    NoAllocation,
    IpcError,
    SchemaMismatch,
    BadRequest,
    Unsupported,
    Internal,
}

impl Kind {
    /// The protocol's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BadHeader => "bad_header",
            Kind::BadName => "bad_name",
            Kind::OutOfBounds => "out_of_bounds",
            Kind::BadPointer => "bad_pointer",
            Kind::NoAllocation => "no_allocation",
            Kind::IpcError => "ipc_error",
            Kind::SchemaMismatch => "schema_mismatch",
            Kind::BadRequest => "bad_request",
            Kind::Unsupported => "unsupported",
            Kind::Internal => "internal",
        }
    }
}

/// An error answer: either one with its kind chosen, or a library's error
/// whose kind the backend decides.
pub struct Error(Repr);

enum Repr {
    Kinded(Kind, String),
    Library(Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `kind`; `message` is the response's message, verbatim.
    pub fn new(kind: Kind, message: impl Into<String>) -> Error {
        Error(Repr::Kinded(kind, message.into()))
    }

    /// The kind and message, the library's error classified by `classify`.
    pub(crate) fn answer(
        self,
        classify: impl FnOnce(&(dyn std::error::Error + 'static)) -> Error,
    ) -> (Kind, String) {
        match self.0 {
            Repr::Kinded(kind, message) => (kind, message),
            Repr::Library(e) => match classify(&*e).0 {
                Repr::Kinded(kind, message) => (kind, message),
                Repr::Library(e) => (Kind::Internal, e.to_string()),
            },
        }
    }
}

/// Why `Error` is no `std::error::Error`: this blanket conversion would then
/// conflict with `From<T> for T`.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for Error {
    fn from(e: E) -> Error {
        Error(Repr::Library(Box::new(e)))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Kinded(kind, message) => write!(f, "{}: {message}", kind.as_str()),
            Repr::Library(e) => write!(f, "library error: {e}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Kinded(_, message) => f.write_str(message),
            Repr::Library(e) => write!(f, "{e}"),
        }
    }
}

/// A `bad_request`: the request itself is wrong.
pub fn bad_request(message: impl Into<String>) -> Error {
    Error::new(Kind::BadRequest, message)
}

/// An `internal` error: the peer failed, not the request.
pub fn internal(message: impl Into<String>) -> Error {
    Error::new(Kind::Internal, message)
}

/// The answer of an op this peer does not implement.
pub fn unsupported(op: &str) -> Error {
    Error::new(
        Kind::Unsupported,
        format!("unknown or unsupported op {op:?}"),
    )
}
