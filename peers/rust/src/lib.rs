//! The VGIS v1 shared-memory segment format of vgi-rpc, ported to Rust from
//! docs/SPEC.md. One module per part of the spec: `header` (HDR), `segment`
//! (LIFE, plus the write and read paths), `allocator` (ALLOC), `framing`
//! (FRAME) and `pointer` (PTR, ADV); `error` holds the typed rejections.

pub mod allocator;
pub mod error;
pub mod framing;
pub mod header;
pub mod pointer;
pub mod segment;

pub use error::{Kind, VgisError};
pub use header::{HEADER_SIZE, MAX_ALLOCS};
pub use segment::Segment;

/// The Arrow version this port is built against (arrow-rs; checked against
/// Cargo.lock by a unit test).
pub const ARROW_VERSION: &str = "60.1.0";

#[cfg(test)]
mod tests {
    #[test]
    fn arrow_version_matches_lock() {
        let lock = include_str!("../Cargo.lock");
        let needle = format!(
            "name = \"arrow-ipc\"\nversion = \"{}\"",
            super::ARROW_VERSION
        );
        assert!(
            lock.contains(&needle),
            "ARROW_VERSION differs from Cargo.lock's arrow-ipc"
        );
    }
}
