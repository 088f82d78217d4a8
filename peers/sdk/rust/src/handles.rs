//! The segment-handle table (`s1`, `s2`, ...) and the bookkeeping of
//! docs/peer-protocol.md that every peer shares: a closed handle serves only
//! `close` and `unlink`, close happens at most once, an attacher never
//! unlinks, and shutdown closes every segment and unlinks each created one
//! that is not unlinked yet.

use crate::backend::Segment;
use crate::error::{bad_request, Result};
use crate::request::Request;
use crate::shm::Mapping;

struct Handle<S> {
    key: String,
    /// The name at create or attach, for messages after close.
    name: String,
    segment: S,
    /// The bench's second mapping of the object (`Segment::bench_memcpy`),
    /// dropped when the segment is closed or unlinked.
    bench_mapping: Option<Mapping>,
    owner: bool,
    closed: bool,
    unlinked: bool,
}

/// The segments a peer holds, in the order it got them.
pub(crate) struct Handles<S> {
    handles: Vec<Handle<S>>,
    count: u64,
}

impl<S: Segment> Handles<S> {
    pub fn new() -> Self {
        Handles {
            handles: Vec::new(),
            count: 0,
        }
    }

    /// Keep `segment`; returns its new handle.
    pub fn add(&mut self, segment: S, owner: bool) -> String {
        self.count += 1;
        let key = format!("s{}", self.count);
        self.handles.push(Handle {
            key: key.clone(),
            name: segment.name().to_string(),
            segment,
            bench_mapping: None,
            owner,
            closed: false,
            unlinked: false,
        });
        key
    }

    fn get(&mut self, req: &Request) -> Result<&mut Handle<S>> {
        let key = req.string("segment")?;
        self.handles
            .iter_mut()
            .find(|h| h.key == key)
            .ok_or_else(|| bad_request(format!("unknown segment handle {key:?}")))
    }

    /// The request's open segment, checked live.
    pub fn open(&mut self, req: &Request) -> Result<&mut S> {
        let h = self.get(req)?;
        if h.closed {
            return Err(bad_request(format!("segment {:?} is closed", h.name)));
        }
        h.segment.check_live()?;
        Ok(&mut h.segment)
    }

    /// [`open`](Self::open), with the handle's bench mapping.
    pub fn open_bench(&mut self, req: &Request) -> Result<(&mut S, &mut Option<Mapping>)> {
        self.open(req)?;
        let h = self.get(req)?;
        Ok((&mut h.segment, &mut h.bench_mapping))
    }

    pub fn close(&mut self, req: &Request) -> Result<()> {
        let h = self.get(req)?;
        h.bench_mapping = None;
        if !h.closed {
            h.closed = true;
            h.segment.close()?;
        }
        Ok(())
    }

    /// Unlink a created segment; a second unlink is answered ok and does nothing.
    pub fn unlink(&mut self, req: &Request) -> Result<()> {
        let h = self.get(req)?;
        if !h.owner {
            return Err(bad_request(format!(
                "[LIFE-10] an attacher never unlinks {:?}",
                h.name
            )));
        }
        h.bench_mapping = None;
        if !h.unlinked {
            h.segment.unlink()?;
            h.unlinked = true;
        }
        Ok(())
    }

    /// Close everything, unlink what this peer created; errors go to stderr,
    /// as no response can carry them.
    pub fn shutdown(&mut self) {
        for mut h in self.handles.drain(..) {
            if !h.closed {
                if let Err(e) = h.segment.close() {
                    eprintln!("vgis-peer: shutdown: close {}: {e}", h.key);
                }
            }
            if h.owner && !h.unlinked {
                if let Err(e) = h.segment.unlink() {
                    eprintln!("vgis-peer: shutdown: unlink {}: {e}", h.key);
                }
            }
        }
    }
}
