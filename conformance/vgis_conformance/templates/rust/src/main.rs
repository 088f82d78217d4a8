//! A VGIS peer over the kit's Rust peer SDK (`vgis-peer`, peers/sdk/rust in
//! the kit): the SDK runs the JSON-lines loop (docs/peer-protocol.md), reads
//! the arguments (integers exact up to 2^64 - 1), the batch and schema files,
//! keeps the segment handles, answers every panic with `internal` and closes
//! and unlinks on shutdown. You implement one method per op.
//!
//! It answers hello and shutdown; every other op is "unsupported" until you
//! implement it: `create` and `attach` below first, then the `Segment`
//! methods, then the optional ones (each behind the capability of its name,
//! declared in peer.toml's `capabilities`). Logs go to stderr.

use arrow_array::RecordBatch;
use vgis_peer::{manifest_capabilities, unsupported, Backend, Info, Metadata};
use vgis_peer::{Resolution, Result, Segment};

struct Peer;

impl Backend for Peer {
    type Segment = Shm;

    fn info(&self) -> Info {
        // `hello` declares what peer.toml declares.
        let capabilities = manifest_capabilities(include_str!("../peer.toml"));
        Info::arrow_rs("@PEER_NAME@", "0.1.0", "60", &capabilities)
    }

    fn create(&mut self, _name: &str, _size: u64) -> Result<Shm> {
        Err(unsupported("create"))
    }

    fn attach(&mut self, _name: &str, _size: Option<u64>) -> Result<Shm> {
        Err(unsupported("attach"))
    }
}

/// One segment of your library.
struct Shm {
    name: String,
    size: u64,
}

impl Segment for Shm {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn header(&mut self, _length: u64) -> Result<Vec<u8>> {
        Err(unsupported("header"))
    }

    fn close(&mut self) -> Result<()> {
        Err(unsupported("close"))
    }

    fn unlink(&mut self) -> Result<()> {
        Err(unsupported("unlink"))
    }

    fn write(&mut self, _batch: &RecordBatch) -> Result<Option<(u64, u64)>> {
        Err(unsupported("write"))
    }

    fn resolve(&mut self, _batch: RecordBatch, _metadata: Metadata) -> Result<Resolution> {
        Err(unsupported("resolve"))
    }
}

fn main() {
    vgis_peer::run(Peer);
}
