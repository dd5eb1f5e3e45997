//! The xar archive that a flat package is.
//!
//! Layout: a 28-byte big-endian header (`xar!`, header size, version 1, compressed
//! and uncompressed length of the table of contents, checksum algorithm 1 = SHA-1),
//! the table of contents (XML, zlib-compressed), then the heap. The heap starts
//! with the SHA-1 of the compressed table of contents (offset 0, 20 bytes, as the
//! table of contents says); the members follow, stored as they are
//! (`application/octet-stream`), each with its SHA-1.
//!
//! Directories are implied by the members' paths. Owners are root:wheel, times the
//! build's: the same members give the same bytes.

use std::io::{self, Read, Write};

use sha1::{Digest as _, Sha1};

pub const HEADER_SIZE: u16 = 28;
pub const CHECKSUM_SHA1: u32 = 1;

/// The bytes of one member.
pub enum Data<'a> {
    Bytes(Vec<u8>),
    /// A stream of known size and SHA-1 (a payload written to a temporary file).
    Stream {
        reader: &'a mut dyn Read,
        size: u64,
        sha1: [u8; 20],
    },
}

pub struct Member<'a> {
    /// Path inside the archive, `/`-separated, e.g. `clawdbot.pkg/Payload`.
    pub path: String,
    pub data: Data<'a>,
}

struct Node {
    name: String,
    children: Vec<usize>,
    member: Option<usize>,
}

/// Writes the archive; `mtime` is every member's time.
pub fn write(w: &mut impl Write, mut members: Vec<Member<'_>>, mtime: u64) -> io::Result<()> {
    // The tree of names, in the order the members first mention them.
    let mut nodes = vec![Node { name: String::new(), children: Vec::new(), member: None }];
    for (i, m) in members.iter().enumerate() {
        let mut at = 0;
        let parts: Vec<&str> = m.path.split('/').collect();
        if parts.iter().any(|p| p.is_empty() || *p == "." || *p == "..") {
            return Err(io::Error::other(format!("xar member path {:?} is not normalised", m.path)));
        }
        for (k, part) in parts.iter().enumerate() {
            let found = nodes[at].children.iter().copied().find(|&c| nodes[c].name == *part);
            at = match found {
                Some(c) if k + 1 < parts.len() && nodes[c].member.is_none() => c,
                Some(_) => return Err(io::Error::other(format!("xar member {:?} clashes with another member", m.path))),
                None => {
                    nodes.push(Node { name: (*part).to_owned(), children: Vec::new(), member: None });
                    let c = nodes.len() - 1;
                    nodes[at].children.push(c);
                    c
                }
            };
        }
        nodes[at].member = Some(i);
    }

    // Table of contents; heap offsets in document order, after the checksum.
    let time = iso8601(mtime);
    let mut toc = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xar>\n <toc>\n");
    toc.push_str(&format!("  <creation-time>{time}</creation-time>\n"));
    toc.push_str("  <checksum style=\"sha1\">\n   <offset>0</offset>\n   <size>20</size>\n  </checksum>\n");
    let mut order = Vec::new();
    let mut next_id = 1u64;
    let mut offset = 20u64;
    for &c in &nodes[0].children {
        toc_node(&nodes, c, &members, &mut toc, 2, &mut next_id, &mut offset, &mut order, &time);
    }
    toc.push_str(" </toc>\n</xar>\n");

    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(toc.as_bytes())?;
    let ztoc = z.finish()?;
    let toc_sha1: [u8; 20] = Sha1::digest(&ztoc).into();

    w.write_all(b"xar!")?;
    w.write_all(&HEADER_SIZE.to_be_bytes())?;
    w.write_all(&1u16.to_be_bytes())?;
    w.write_all(&(ztoc.len() as u64).to_be_bytes())?;
    w.write_all(&(toc.len() as u64).to_be_bytes())?;
    w.write_all(&CHECKSUM_SHA1.to_be_bytes())?;
    w.write_all(&ztoc)?;
    w.write_all(&toc_sha1)?;
    for i in order {
        let m = &mut members[i];
        match &mut m.data {
            Data::Bytes(b) => w.write_all(b)?,
            Data::Stream { reader, size, .. } => {
                let copied = io::copy(&mut reader.take(*size), w)?;
                if copied != *size {
                    return Err(io::Error::other(format!("{}: {copied} bytes read, {size} expected", m.path)));
                }
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn toc_node(
    nodes: &[Node],
    at: usize,
    members: &[Member<'_>],
    toc: &mut String,
    depth: usize,
    next_id: &mut u64,
    offset: &mut u64,
    order: &mut Vec<usize>,
    time: &str,
) {
    let pad = " ".repeat(depth);
    let node = &nodes[at];
    toc.push_str(&format!("{pad}<file id=\"{}\">\n", *next_id));
    *next_id += 1;
    match node.member {
        Some(i) => {
            let (size, sha1) = match &members[i].data {
                Data::Bytes(b) => (b.len() as u64, Sha1::digest(b).into()),
                Data::Stream { size, sha1, .. } => (*size, *sha1),
            };
            let sha1 = crate::macos::hex(&sha1);
            toc.push_str(&format!(
                "{pad} <data>\n{pad}  <length>{size}</length>\n{pad}  <offset>{off}</offset>\n{pad}  <size>{size}</size>\n{pad}  <encoding style=\"application/octet-stream\"/>\n{pad}  <extracted-checksum style=\"sha1\">{sha1}</extracted-checksum>\n{pad}  <archived-checksum style=\"sha1\">{sha1}</archived-checksum>\n{pad} </data>\n",
                off = *offset
            ));
            *offset += size;
            order.push(i);
            file_meta(toc, &pad, "file", "0644", &node.name, time);
        }
        None => {
            file_meta(toc, &pad, "directory", "0755", &node.name, time);
            for &c in &node.children {
                toc_node(nodes, c, members, toc, depth + 1, next_id, offset, order, time);
            }
        }
    }
    toc.push_str(&format!("{pad}</file>\n"));
}

fn file_meta(toc: &mut String, pad: &str, kind: &str, mode: &str, name: &str, time: &str) {
    toc.push_str(&format!(
        "{pad} <ctime>{time}</ctime>\n{pad} <mtime>{time}</mtime>\n{pad} <atime>{time}</atime>\n{pad} <group>wheel</group>\n{pad} <gid>0</gid>\n{pad} <user>root</user>\n{pad} <uid>0</uid>\n{pad} <mode>{mode}</mode>\n{pad} <type>{kind}</type>\n{pad} <name>{}</name>\n",
        crate::macos::xml_escape(name)
    ));
}

/// `2026-11-26T00:00:00Z` for a Unix time.
pub fn iso8601(secs: u64) -> String {
    let rem = secs % 86400;
    let (y, m, d) = crate::write::civil_from_days((secs / 86400) as i64);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_651_200 + 3661), "2026-11-26T01:01:01Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }
}
