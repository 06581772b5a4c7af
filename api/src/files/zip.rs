//! "Download all": a ZIP of every file, written as it streams (no temporary file, one chunk in
//! memory at a time). Entries are stored, not compressed (books, archives and media do not
//! shrink), with their CRC-32 in a data descriptor after the bytes, so nothing needs reading
//! twice; the sizes are known up front, so the whole length is too. ZIP64 records are written
//! when a size or offset needs them (files of 4 GiB and more).

use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};

use crate::downloads::Body;
use crate::files::repo::Current;
use crate::AppState;

const LIMIT32: u64 = 0xFFFF_FFFF;
/// Version needed to extract: 2.0, or 4.5 for ZIP64.
const fn needed(zip64: bool) -> u16 {
    if zip64 {
        45
    } else {
        20
    }
}
/// Data descriptor follows (bit 3), names are UTF-8 (bit 11).
const FLAGS: u16 = 0x0808;

/// One entry's place in the archive.
struct Entry {
    name: Vec<u8>,
    size: u64,
    offset: u64,
    zip64: bool,
}

/// Names in the archive: each file's display name, made unique (`name (2).pdf`).
fn entry_names(files: &[(Current, Body)]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    files
        .iter()
        .map(|(c, _)| {
            let name = c.file.name.clone();
            if seen.insert(name.to_lowercase()) {
                return name;
            }
            let (stem, ext) = match name.rfind('.') {
                Some(i) if i > 0 => (&name[..i], &name[i..]),
                _ => (name.as_str(), ""),
            };
            (2..)
                .map(|n| format!("{stem} ({n}){ext}"))
                .find(|candidate| seen.insert(candidate.to_lowercase()))
                .expect("some number is free")
        })
        .collect()
}

fn layout(files: &[(Current, Body)]) -> (Vec<Entry>, u64) {
    let mut offset = 0u64;
    let mut entries = Vec::with_capacity(files.len());
    for (name, (_, body)) in entry_names(files).into_iter().zip(files) {
        let size = body.len();
        let zip64 = size >= LIMIT32 || offset >= LIMIT32;
        let entry = Entry {
            name: name.into_bytes(),
            size,
            offset,
            zip64,
        };
        offset += local_len(&entry) + size + descriptor_len(&entry);
        entries.push(entry);
    }
    (entries, offset)
}

fn local_len(e: &Entry) -> u64 {
    30 + e.name.len() as u64 + if e.zip64 { 20 } else { 0 }
}

fn descriptor_len(e: &Entry) -> u64 {
    if e.zip64 {
        24
    } else {
        16
    }
}

fn central_len(e: &Entry) -> u64 {
    46 + e.name.len() as u64 + if e.zip64 { 28 } else { 0 }
}

fn end_len(entries: &[Entry], cd_offset: u64, cd_size: u64) -> u64 {
    22 + if needs_zip64_end(entries, cd_offset, cd_size) {
        56 + 20
    } else {
        0
    }
}

fn needs_zip64_end(entries: &[Entry], cd_offset: u64, cd_size: u64) -> bool {
    entries.len() >= 0xFFFF || cd_offset >= LIMIT32 || cd_size >= LIMIT32
}

/// The archive's length in bytes, before it is written.
pub fn length(files: &[(Current, Body)]) -> u64 {
    let (entries, cd_offset) = layout(files);
    let cd_size: u64 = entries.iter().map(central_len).sum();
    cd_offset + cd_size + end_len(&entries, cd_offset, cd_size)
}

fn local_header(e: &Entry) -> Bytes {
    let mut b = BytesMut::with_capacity(local_len(e) as usize);
    b.put_u32_le(0x0403_4b50);
    b.put_u16_le(needed(e.zip64));
    b.put_u16_le(FLAGS);
    b.put_u16_le(0); // stored
    b.put_u16_le(0); // time
    b.put_u16_le(0x21); // date: 1980-01-01
    b.put_u32_le(0); // crc: in the descriptor
    let marker = if e.zip64 { LIMIT32 as u32 } else { 0 };
    b.put_u32_le(marker);
    b.put_u32_le(marker);
    b.put_u16_le(e.name.len() as u16);
    b.put_u16_le(if e.zip64 { 20 } else { 0 });
    b.put_slice(&e.name);
    if e.zip64 {
        b.put_u16_le(0x0001);
        b.put_u16_le(16);
        b.put_u64_le(0);
        b.put_u64_le(0);
    }
    b.freeze()
}

fn descriptor(e: &Entry, crc: u32) -> Bytes {
    let mut b = BytesMut::with_capacity(descriptor_len(e) as usize);
    b.put_u32_le(0x0807_4b50);
    b.put_u32_le(crc);
    if e.zip64 {
        b.put_u64_le(e.size);
        b.put_u64_le(e.size);
    } else {
        b.put_u32_le(e.size as u32);
        b.put_u32_le(e.size as u32);
    }
    b.freeze()
}

fn central_directory(entries: &[Entry], crcs: &[u32], cd_offset: u64) -> Bytes {
    let cd_size: u64 = entries.iter().map(central_len).sum();
    let mut b = BytesMut::with_capacity((cd_size + end_len(entries, cd_offset, cd_size)) as usize);
    for (e, crc) in entries.iter().zip(crcs) {
        b.put_u32_le(0x0201_4b50);
        b.put_u16_le(0x0300 | needed(e.zip64)); // made by: Unix
        b.put_u16_le(needed(e.zip64));
        b.put_u16_le(FLAGS);
        b.put_u16_le(0);
        b.put_u16_le(0);
        b.put_u16_le(0x21);
        b.put_u32_le(*crc);
        let (size32, offset32) = if e.zip64 {
            (LIMIT32 as u32, LIMIT32 as u32)
        } else {
            (e.size as u32, e.offset as u32)
        };
        b.put_u32_le(size32);
        b.put_u32_le(size32);
        b.put_u16_le(e.name.len() as u16);
        b.put_u16_le(if e.zip64 { 28 } else { 0 });
        b.put_u16_le(0); // comment
        b.put_u16_le(0); // disk
        b.put_u16_le(0); // internal attributes
        b.put_u32_le(0o100644 << 16); // a regular file, rw-r--r--
        b.put_u32_le(offset32);
        b.put_slice(&e.name);
        if e.zip64 {
            b.put_u16_le(0x0001);
            b.put_u16_le(24);
            b.put_u64_le(e.size);
            b.put_u64_le(e.size);
            b.put_u64_le(e.offset);
        }
    }
    let count = entries.len() as u64;
    if needs_zip64_end(entries, cd_offset, cd_size) {
        let end64 = cd_offset + cd_size;
        b.put_u32_le(0x0606_4b50);
        b.put_u64_le(44);
        b.put_u16_le(0x0300 | 45);
        b.put_u16_le(45);
        b.put_u32_le(0);
        b.put_u32_le(0);
        b.put_u64_le(count);
        b.put_u64_le(count);
        b.put_u64_le(cd_size);
        b.put_u64_le(cd_offset);
        b.put_u32_le(0x0706_4b50);
        b.put_u32_le(0);
        b.put_u64_le(end64);
        b.put_u32_le(1);
    }
    b.put_u32_le(0x0605_4b50);
    b.put_u16_le(0);
    b.put_u16_le(0);
    b.put_u16_le(count.min(0xFFFF) as u16);
    b.put_u16_le(count.min(0xFFFF) as u16);
    b.put_u32_le(cd_size.min(LIMIT32) as u32);
    b.put_u32_le(cd_offset.min(LIMIT32) as u32);
    b.put_u16_le(0);
    b.freeze()
}

/// The archive, written as it is sent: each file is opened only when its turn comes.
pub fn stream(
    state: AppState,
    files: Vec<(Current, Body)>,
) -> BoxStream<'static, Result<Bytes, object_store::Error>> {
    let (entries, cd_offset) = layout(&files);
    let entries = Arc::new(entries);
    let crcs = Arc::new(Mutex::new(Vec::with_capacity(files.len())));
    let parts = files.into_iter().enumerate().map({
        let (entries, crcs) = (entries.clone(), crcs.clone());
        move |(i, (_, body))| {
            let (state, entries, crcs) = (state.clone(), entries.clone(), crcs.clone());
            let hasher = Arc::new(Mutex::new(crc32fast::Hasher::new()));
            let header = stream::once({
                let entries = entries.clone();
                async move { Ok(local_header(&entries[i])) }
            });
            let data = stream::once({
                let hasher = hasher.clone();
                async move {
                    let bytes = crate::downloads::body_stream(&state, &body, None).await?;
                    Ok::<_, object_store::Error>(bytes.map_ok(move |chunk| {
                        hasher.lock().expect("crc lock").update(&chunk);
                        chunk
                    }))
                }
            })
            .try_flatten();
            let trailer = stream::once(async move {
                let crc = std::mem::take(&mut *hasher.lock().expect("crc lock")).finalize();
                crcs.lock().expect("crc lock").push(crc);
                Ok(descriptor(&entries[i], crc))
            });
            header.chain(data).chain(trailer)
        }
    });
    let end = stream::once(async move {
        let crcs = crcs.lock().expect("crc lock").clone();
        Ok(central_directory(&entries, &crcs, cd_offset))
    });
    stream::iter(parts).flatten().chain(end).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, size: u64, offset: u64) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            size,
            zip64: size >= LIMIT32 || offset >= LIMIT32,
            offset,
        }
    }

    #[test]
    fn records_have_the_lengths_the_layout_counts() {
        for e in [entry("a.pdf", 10, 0), entry("big.mp4", 5 << 30, 10)] {
            assert_eq!(local_header(&e).len() as u64, local_len(&e));
            assert_eq!(descriptor(&e, 7).len() as u64, descriptor_len(&e));
        }
        let entries = [entry("a.pdf", 10, 0), entry("big.mp4", 5 << 30, 100)];
        let cd_offset = 6 << 30;
        let cd = central_directory(&entries, &[1, 2], cd_offset);
        let cd_size: u64 = entries.iter().map(central_len).sum();
        assert_eq!(
            cd.len() as u64,
            cd_size + end_len(&entries, cd_offset, cd_size)
        );
        assert!(needs_zip64_end(&entries, cd_offset, cd_size));
    }
}
