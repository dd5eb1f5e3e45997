//! The portable ASCII ("odc", `070707`) cpio format of `Payload` and `Scripts`.
//!
//! Each member is a 76-byte header of octal fields, the NUL-terminated name and the
//! data, without padding; the archive ends with a `TRAILER!!!` member. Inode numbers
//! count up from 1 so that no two members look like hard links.

use std::io::{self, Read, Write};

/// File type bits of the header's mode field.
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;

/// Largest size an 11-digit octal field can hold.
const MAX_SIZE: u64 = 0o77777777777;

pub struct Writer<W: Write> {
    inner: W,
    next_ino: u32,
}

impl<W: Write> Writer<W> {
    pub fn new(inner: W) -> Writer<W> {
        Writer { inner, next_ino: 1 }
    }

    fn header(&mut self, name: &str, mode: u32, uid: u32, gid: u32, mtime: u64, size: u64) -> io::Result<()> {
        if size > MAX_SIZE {
            return Err(io::Error::other(format!("{name}: {size} bytes is too large for a cpio odc member")));
        }
        let ino = if name == "TRAILER!!!" { 0 } else { self.next_ino };
        self.next_ino += 1;
        let nlink = if mode & 0o170000 == S_IFDIR { 2 } else { 1 };
        let header = format!(
            "070707{dev:06o}{ino:06o}{mode:06o}{uid:06o}{gid:06o}{nlink:06o}{rdev:06o}{mtime:011o}{namesize:06o}{size:011o}",
            dev = 0,
            ino = ino & 0o777777,
            rdev = 0,
            mtime = mtime.min(MAX_SIZE),
            namesize = name.len() + 1,
        );
        debug_assert_eq!(header.len(), 76);
        self.inner.write_all(header.as_bytes())?;
        self.inner.write_all(name.as_bytes())?;
        self.inner.write_all(&[0])
    }

    pub fn dir(&mut self, name: &str, mode: u32, uid: u32, gid: u32, mtime: u64) -> io::Result<()> {
        self.header(name, S_IFDIR | mode, uid, gid, mtime, 0)
    }

    pub fn symlink(&mut self, name: &str, target: &str, uid: u32, gid: u32, mtime: u64) -> io::Result<()> {
        self.header(name, S_IFLNK | 0o755, uid, gid, mtime, target.len() as u64)?;
        self.inner.write_all(target.as_bytes())
    }

    /// Copies exactly `size` bytes from `data`; a shorter source is an error.
    #[allow(clippy::too_many_arguments)]
    pub fn file(&mut self, name: &str, mode: u32, uid: u32, gid: u32, mtime: u64, size: u64, data: &mut impl Read) -> io::Result<()> {
        self.header(name, S_IFREG | mode, uid, gid, mtime, size)?;
        let copied = io::copy(&mut data.take(size), &mut self.inner)?;
        if copied != size {
            return Err(io::Error::other(format!("{name}: {copied} bytes read, {size} expected (did the file change?)")));
        }
        Ok(())
    }

    /// The writer the archive goes to (to tell an encoder where members start).
    pub fn inner_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.header("TRAILER!!!", 0, 0, 0, 0, 0)?;
        Ok(self.inner)
    }
}
