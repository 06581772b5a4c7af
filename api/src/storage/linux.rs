//! Linux's fast paths for local files: opening an object and reading it from what the kernel
//! already has in memory, on the async worker, without a thread hop. Every other platform uses
//! [`super::portable`], which always says "not cached" and leaves the work to the blocking pool.

use std::os::fd::OwnedFd;

/// The storage folder, opened once, to open objects beneath.
pub type Dir = OwnedFd;

pub fn open_dir(root: &std::path::Path) -> std::io::Result<Dir> {
    Ok(std::fs::File::open(root)?.into())
}

/// Opens the object at `key` in the folder `dir` if that needs nothing but what the kernel has
/// cached (`openat2` with `RESOLVE_CACHED`, inside `dir`): right here on the async worker, where
/// the blocking pool cost two thread wake-ups per download. None when the open would touch the
/// disk, fails for any reason, or the key is not a plain object name: the caller then asks
/// object_store, which opens on the blocking pool and reports errors its own way.
pub fn open_cached(dir: &Dir, key: &str) -> Option<std::fs::File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let plain = !key.is_empty()
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
    if !plain {
        return None;
    }
    let path = std::ffi::CString::new(key).ok()?;
    // SAFETY: open_how is plain integers; all zero is "no flags".
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_CACHED | libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS;
    // SAFETY: `path` is a NUL-terminated string and `how` a valid open_how whose size is passed;
    // the descriptor returned, if any, is owned by nobody else.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: a fresh descriptor from openat2, closed when the File drops.
    Some(unsafe { std::fs::File::from_raw_fd(fd as i32) })
}

/// Reads at `pos` only what the page cache holds: `EAGAIN` when the first byte would need the
/// disk, fewer bytes than asked when only a part is cached (`preadv2` with `RWF_NOWAIT`).
pub fn read_cached(file: &std::fs::File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let offset = libc::off_t::try_from(pos)
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EOVERFLOW))?;
    // SAFETY: `iov` describes `buf`, which is valid for writes of its length and outlives the
    // call; the descriptor is open for as long as `file` is borrowed.
    let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
