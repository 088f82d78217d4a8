//! POSIX shared-memory objects by name, for an adapter whose library keeps
//! its mapping to itself: the object's size (an `attach` without an
//! advertised size) and a second, writable mapping of the same pages (the
//! bench's `memcpy`).

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::io::AsRawFd;

use crate::error::{internal, Error, Kind, Result};

/// The object `name`, tried as given and then with a leading slash (as
/// libraries that canonicalise names open it).
fn open_object(name: &str, flags: libc::c_int) -> Result<OwnedFd> {
    let mut candidates = vec![name.to_string()];
    if !name.starts_with('/') {
        candidates.push(format!("/{name}"));
    }
    for candidate in candidates {
        let Ok(cname) = CString::new(candidate) else {
            continue;
        };
        let fd = unsafe { libc::shm_open(cname.as_ptr(), flags, 0) };
        if fd >= 0 {
            // SAFETY: shm_open returned a fresh descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    Err(Error::new(
        Kind::BadName,
        format!("cannot open segment {name:?}"),
    ))
}

/// The size of the object `name`.
pub fn object_size(name: &str) -> Result<u64> {
    let fd = open_object(name, libc::O_RDONLY)?;
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(Error::new(
            Kind::BadName,
            format!("cannot open segment {name:?}"),
        ));
    }
    Ok(st.st_size.max(0) as u64)
}

/// A writable shared mapping of an object's first `size` bytes; unmapped on drop.
pub struct Mapping {
    ptr: *mut u8,
    size: usize,
}

impl Mapping {
    pub fn open(name: &str, size: usize) -> Result<Mapping> {
        let fd = open_object(name, libc::O_RDWR)?;
        let (prot, flags) = (libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED);
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), size, prot, flags, fd.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(internal(format!(
                "cannot map {name:?}: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            size,
        })
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `size` bytes, writable, and lives as long as self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.size) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.ptr.cast(), self.size) };
    }
}
