//! POSIX shared-memory segments (LIFE-*): create, attach, close, unlink, and
//! the two operations that put a batch in a region or take it out (WRITE-*,
//! PTR-9). `shm_open` + `mmap` through `libc`.

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_schema::Schema;

use crate::allocator::Allocator;
use crate::error::{bad_header, bad_name, bad_request, internal, out_of_bounds, Result};
use crate::framing;
use crate::header::{self, Header, FIXED_SIZE, HEADER_SIZE};

/// LIFE-11: permissions of a created object.
pub const MODE: libc::mode_t = 0o600;

/// The name with exactly one leading slash (LIFE-9).
pub fn canonical_name(name: &str) -> String {
    format!("/{}", name.trim_start_matches('/'))
}

fn check_name(name: &str) -> Result<CString> {
    let bare = name.trim_start_matches('/');
    if bare.is_empty() || bare.contains('/') || bare.len() > 255 {
        return Err(bad_name("LIFE-9", format!("invalid segment name {name:?}")));
    }
    CString::new(name)
        .map_err(|_| bad_name("LIFE-9", format!("segment name {name:?} contains NUL")))
}

fn os_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// Closes a file descriptor when dropped.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

fn object_size(fd: &Fd) -> std::io::Result<u64> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.0, &mut st) } != 0 {
        return Err(os_error());
    }
    Ok(st.st_size.max(0) as u64)
}

fn map(fd: &Fd, size: usize) -> std::io::Result<*mut u8> {
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.0,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        Err(os_error())
    } else {
        Ok(ptr as *mut u8)
    }
}

/// A shared mapping, unmapped when its last holder drops: the segment, or a
/// batch that [`Segment::read_batch`] decoded in place (closing the segment
/// must not pull the pages from under a batch still in use).
struct Map {
    ptr: *mut u8,
    size: usize,
}

// SAFETY: the mapping is plain shared memory, valid until `Drop`; Arrow's
// buffers over it are read-only views, as over any shared allocation.
unsafe impl Send for Map {}
unsafe impl Sync for Map {}

impl Drop for Map {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.size) };
    }
}

/// A mapped VGIS segment; `owner` is true for the creator only.
pub struct Segment {
    name: String,
    size: usize,
    ptr: *mut u8,
    map: Arc<Map>,
    owner: bool,
    /// Kept open so that `check_live` can `fstat` the object (LIFE-14).
    fd: Fd,
}

impl Segment {
    /// Create, size and initialize a new segment (LIFE-1..3, LIFE-11).
    pub fn create(name: &str, size: u64) -> Result<Segment> {
        if size <= HEADER_SIZE as u64 {
            return Err(bad_request(
                "LIFE-1",
                format!("segment size must exceed {HEADER_SIZE}, got {size}"),
            ));
        }
        let size_t = libc::off_t::try_from(size)
            .map_err(|_| bad_request("LIFE-1", format!("segment size {size} is too large")))?;
        let name = canonical_name(name);
        let cname = check_name(&name)?;
        let fd = unsafe {
            libc::shm_open(
                cname.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
                MODE,
            )
        };
        if fd < 0 {
            return Err(bad_name(
                "LIFE-1",
                format!("cannot create {name:?}: {}", os_error()),
            ));
        }
        let fd = Fd(fd);
        let result = (|| -> std::io::Result<(usize, *mut u8)> {
            // shm_open's mode is filtered by the umask; set it exactly.
            if unsafe { libc::fchmod(fd.0, MODE) } != 0 {
                return Err(os_error());
            }
            if unsafe { libc::ftruncate(fd.0, size_t) } != 0 {
                return Err(os_error());
            }
            // LIFE-2: the size actually mapped, after any OS rounding.
            let actual = usize::try_from(object_size(&fd)?).map_err(std::io::Error::other)?;
            Ok((actual, map(&fd, actual)?))
        })();
        match result {
            Ok((actual, ptr)) => {
                let mut seg = Segment {
                    name,
                    size: actual,
                    ptr,
                    map: Arc::new(Map { ptr, size: actual }),
                    owner: true,
                    fd,
                };
                header::initialize(seg.bytes_mut(), actual as u64);
                Ok(seg)
            }
            Err(e) => {
                unsafe { libc::shm_unlink(cname.as_ptr()) };
                Err(bad_name(
                    "LIFE-1",
                    format!("cannot size or map {name:?}: {e}"),
                ))
            }
        }
    }

    /// Map an existing segment after validating it (LIFE-4..9, LIFE-12).
    ///
    /// The object's size comes from `fstat` and is checked before anything
    /// is read; the fixed header fields are read with `pread` and validated
    /// before anything is mapped, so a rejected attach maps nothing.
    pub fn attach(name: &str, advertised: Option<u64>) -> Result<Segment> {
        check_name(name)?;
        let mut candidates = vec![name.to_string()];
        if !name.starts_with('/') {
            candidates.push(canonical_name(name));
        }
        let mut opened = None;
        let mut last_error = None;
        for candidate in candidates {
            let cname = check_name(&candidate)?;
            let fd = unsafe { libc::shm_open(cname.as_ptr(), libc::O_RDWR, MODE) };
            if fd >= 0 {
                opened = Some((Fd(fd), candidate));
                break;
            }
            last_error = Some(os_error());
        }
        let Some((fd, name)) = opened else {
            let e = last_error.map(|e| e.to_string()).unwrap_or_default();
            return Err(bad_name(
                "LIFE-9",
                format!("cannot open segment {name:?}: {e}"),
            ));
        };
        let actual = object_size(&fd)
            .map_err(|e| bad_name("LIFE-9", format!("cannot stat {name:?}: {e}")))?;
        if actual <= HEADER_SIZE as u64 {
            return Err(bad_header(
                "LIFE-8",
                format!("object is {actual} bytes, not larger than the {HEADER_SIZE}-byte header"),
            ));
        }
        if let Some(advertised) = advertised {
            if advertised > actual {
                return Err(bad_header(
                    "LIFE-8",
                    format!("object is {actual} bytes, smaller than the advertised {advertised}"),
                ));
            }
        }
        let mut fixed = [0u8; FIXED_SIZE];
        let read =
            unsafe { libc::pread(fd.0, fixed.as_mut_ptr() as *mut libc::c_void, FIXED_SIZE, 0) };
        if read != FIXED_SIZE as isize {
            return Err(bad_header(
                "LIFE-8",
                format!("cannot read the header of {name:?}: {}", os_error()),
            ));
        }
        header::validate(&fixed, actual)?;
        let size = usize::try_from(actual).map_err(|_| {
            bad_header(
                "LIFE-8",
                format!("object of {actual} bytes cannot be mapped"),
            )
        })?;
        let ptr =
            map(&fd, size).map_err(|e| internal("LIFE-9", format!("cannot map {name:?}: {e}")))?;
        Ok(Segment {
            name,
            size,
            ptr,
            map: Arc::new(Map { ptr, size }),
            owner: false,
            fd,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mapped size of the whole segment, header included.
    pub fn size(&self) -> usize {
        self.size
    }

    pub fn owner(&self) -> bool {
        self.owner
    }

    /// The whole mapping.
    pub fn bytes(&self) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.ptr, self.size) }
    }

    /// The whole mapping, writable (the `bench` memcpy baseline writes here).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.size) }
    }

    /// The allocator over this segment's header.
    pub fn allocator(&mut self) -> Allocator<'_> {
        let total = self.size as u64;
        Allocator::new(&mut self.bytes_mut()[..HEADER_SIZE], total)
    }

    /// The decoded header as it is now.
    pub fn header(&self) -> Header {
        header::decode(&self.bytes()[..HEADER_SIZE])
    }

    /// Remove the OS object; only the creator may (LIFE-10). An object
    /// already gone is not an error.
    pub fn unlink(&self) -> Result<()> {
        if !self.owner {
            return Err(bad_request(
                "LIFE-10",
                format!("an attacher never unlinks {:?}", self.name),
            ));
        }
        unlink_name(&self.name)
    }

    /// Allocate an entry and write `batch`'s region into it (WRITE-1..3).
    /// `Ok(None)` when it does not fit, leaving no entry (WRITE-6).
    ///
    /// The region is encoded first without copying the body, so the entry is
    /// reserved at its exact size; the body is then copied once, straight
    /// into a slice bounded by the entry.
    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<Option<(u64, u64)>> {
        if batch.num_rows() == 0 {
            return Err(bad_request(
                "WRITE-4",
                "zero-row batches are never written to a segment",
            ));
        }
        let region = framing::EncodedRegion::new(batch)?;
        let length = region.len() as u64;
        let Some(offset) = self.allocator().allocate(length)? else {
            return Ok(None);
        };
        let start = usize::try_from(offset)
            .map_err(|_| internal("WRITE-3", "offset beyond the address space"))?;
        let entry = self
            .bytes_mut()
            .get_mut(start..start + region.len())
            .ok_or_else(|| {
                internal(
                    "WRITE-3",
                    format!("entry {offset}+{length} is outside the mapping"),
                )
            })?;
        region.write_to(entry);
        Ok(Some((offset, length)))
    }

    /// Fail with `bad_header` if the object shrank under the mapping (LIFE-14): a byte of the mapping past
    /// the object's current end is SIGBUS when touched, which no process survives (ERR-2).
    pub fn check_live(&self) -> Result<()> {
        let now = object_size(&self.fd)
            .map_err(|e| bad_header("LIFE-14", format!("cannot stat {:?}: {e}", self.name)))?;
        if now < self.size as u64 {
            return Err(bad_header(
                "LIFE-14",
                format!(
                    "the object shrank to {now} bytes under its {}-byte mapping",
                    self.size
                ),
            ));
        }
        Ok(())
    }

    /// The bytes of a region, after the LIFE-14 and PTR-9 checks.
    pub fn region(&self, offset: u64, length: u64) -> Result<&[u8]> {
        self.check_live()?;
        if offset < HEADER_SIZE as u64 {
            return Err(out_of_bounds(
                "PTR-9",
                format!("offset {offset} lies inside the {HEADER_SIZE}-byte header"),
            ));
        }
        let Some(end) = offset.checked_add(length) else {
            return Err(out_of_bounds(
                "PTR-9",
                format!("region {offset}+{length} overflows 64 bits"),
            ));
        };
        if end > self.size as u64 {
            return Err(out_of_bounds(
                "PTR-9",
                format!(
                    "region {offset}+{length} ends at {end}, past the segment's {} bytes",
                    self.size
                ),
            ));
        }
        Ok(&self.bytes()[offset as usize..end as usize])
    }

    /// Decode the batch in the region at `offset`, given the pointer's schema,
    /// in place: its buffers are views of the mapping (PTR-10: no copy), which
    /// they keep mapped after the segment is closed.
    pub fn read_batch(&self, offset: u64, length: u64, schema: &Schema) -> Result<RecordBatch> {
        let region = self.region(offset, length)?;
        let ptr = NonNull::from(region).cast::<u8>();
        let owner: Arc<Map> = self.map.clone();
        // SAFETY: `region` lies inside the mapping (checked by `region`), which
        // `owner` keeps mapped for as long as any buffer over it lives.
        let buffer = unsafe { Buffer::from_custom_allocation(ptr, region.len(), owner) };
        framing::decode_region_buffer(buffer, schema)
    }
}

/// Unlink a segment by name, ignoring one that is already gone.
pub fn unlink_name(name: &str) -> Result<()> {
    let name = canonical_name(name);
    let cname = check_name(&name)?;
    if unsafe { libc::shm_unlink(cname.as_ptr()) } != 0 {
        let e = os_error();
        if e.raw_os_error() != Some(libc::ENOENT) {
            return Err(bad_name("LIFE-10", format!("cannot unlink {name:?}: {e}")));
        }
    }
    Ok(())
}
