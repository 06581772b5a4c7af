//! The fallback of [`super::linux`] on other platforms (and on Linux when a storage is made
//! with [`super::Storage::local_portable`], which the tests use to run downloads this way): no
//! file is "cached", so every open goes through object_store and every read to the blocking pool.

/// Nothing is kept: objects are opened by path.
#[cfg_attr(all(target_os = "linux", not(folio_portable)), allow(dead_code))]
pub type Dir = ();

#[cfg_attr(all(target_os = "linux", not(folio_portable)), allow(dead_code))]
pub fn open_dir(_root: &std::path::Path) -> std::io::Result<Dir> {
    Ok(())
}

#[cfg_attr(all(target_os = "linux", not(folio_portable)), allow(dead_code))]
pub fn open_cached(_dir: &Dir, _key: &str) -> Option<std::fs::File> {
    None
}

#[cfg_attr(all(target_os = "linux", not(folio_portable)), allow(dead_code))]
pub fn read_cached(_file: &std::fs::File, _buf: &mut [u8], _pos: u64) -> std::io::Result<usize> {
    Err(std::io::ErrorKind::WouldBlock.into())
}

/// Reads exactly `buf.len()` bytes at `pos`.
#[cfg(unix)]
pub fn read_exact_at(file: &std::fs::File, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, pos)
}

/// Reads exactly `buf.len()` bytes at `pos`.
#[cfg(windows)]
pub fn read_exact_at(
    file: &std::fs::File,
    mut buf: &mut [u8],
    mut pos: u64,
) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, pos)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                pos += n as u64;
            }
        }
    }
    Ok(())
}
