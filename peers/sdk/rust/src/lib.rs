//! The Rust peer SDK: the protocol plumbing of a VGIS conformance peer
//! (docs/peer-protocol.md), so that an adapter is only its library's calls.
//!
//! The SDK owns the JSON-lines loop on stdin/stdout, the segment-handle
//! table (closed handles serve only `close` and `unlink`; an attacher never
//! unlinks), the arguments with the protocol's error kinds (integers exact up
//! to 2^64 - 1), batch and schema files, `hello`, the capability check, the
//! `bench` op, the capture of every panic into an `internal` answer, and the
//! shutdown (close every segment, unlink the created ones). It knows nothing
//! about any VGIS implementation: a peer implements [`Backend`] and
//! [`Segment`] over the library it wraps, one method per op it supports (the
//! others answer `unsupported`), and calls [`run`].
//!
//! A library's errors reach the SDK through `?` and are given their kind by
//! [`Backend::classify`]; an adapter's own rejections are [`Error::new`].

mod backend;
mod bench;
mod error;
mod fifo;
mod files;
mod handles;
mod manifest;
mod ops;
mod replace;
mod request;
mod serve;
pub mod shm;
pub mod timing;

pub use backend::{Backend, Info, MaybeWritten, PointerBatch, Resolution, Segment};
pub use error::{bad_request, internal, unsupported, Error, Kind, Result};
pub use files::{read_file, write_file};
pub use manifest::manifest_capabilities;
pub use ops::PROTOCOL;
pub use replace::{bench_resolve_replacing, replace_entry};
pub use request::{Json, Metadata, Request};
pub use serve::{run, serve};
