//! The Bom ("bill of materials") of a component package: every path the payload
//! installs, with its type, mode, owner, size and checksum. Installer keeps it as
//! the receipt that `pkgutil --files` and `lsbom` read.
//!
//! The layout follows the one bomutils documents and Apple's own tools write:
//!
//! - a 512-byte header: `BOMStore`, version 1, the number of used blocks, and the
//!   offset and length of the block index and the variable index (big-endian);
//! - blocks, addressed by number through the block index (block 0 is null);
//! - the variables `BomInfo`, `Paths`, `HLIndex`, `VIndex` and `Size64`, each naming
//!   the block that holds it;
//! - `Paths` is a B-tree (blocks of 4096 bytes) whose leaves list, for every path,
//!   a pointer pair: the path's id and record, and its key (parent id + name). Keys
//!   are sorted by parent id, then name, so a parent always precedes its children;
//!   leaves are chained forward and backward; with more than one leaf, an index
//!   node above them holds each leaf with its last key;
//! - a path record: type (1 file, 2 directory, 3 link), mode with the type bits,
//!   uid, gid, mtime, size, the `cksum` CRC of a file's data or a link's target,
//!   and the link target.
//!
//! `HLIndex` (hard links) and `Size64` (files over 4 GiB) are empty trees here: the
//! payload has neither.

use std::collections::HashMap;

use crate::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BomKind {
    File { cksum: u32 },
    Dir,
    Link { target: String, cksum: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BomEntry {
    /// `.` or `./Library/...`, as in the payload.
    pub path: String,
    pub kind: BomKind,
    /// Permission bits, without the type.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u32,
    pub size: u64,
}

const TREE_BLOCK: usize = 4096;
const VINDEX_BLOCK: usize = 128;
/// Paths per leaf; a leaf of 12 + 8 × 256 bytes fits a 4096-byte block.
const PER_LEAF: usize = 256;
/// Entries an index node can hold: (4096 - 12) / 8.
const MAX_CHILDREN: usize = (TREE_BLOCK - 12) / 8;

struct Blocks(Vec<Vec<u8>>);

impl Blocks {
    fn push(&mut self, data: Vec<u8>) -> u32 {
        self.0.push(data);
        (self.0.len() - 1) as u32
    }
    fn reserve(&mut self) -> u32 {
        self.push(Vec::new())
    }
    fn set(&mut self, id: u32, data: Vec<u8>) {
        self.0[id as usize] = data;
    }
}

fn be32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_be_bytes());
}

fn tree(child: u32, block_size: usize, count: u32) -> Vec<u8> {
    let mut t = b"tree".to_vec();
    be32(&mut t, 1);
    be32(&mut t, child);
    be32(&mut t, block_size as u32);
    be32(&mut t, count);
    t.push(0);
    t
}

fn paths_node(leaf: bool, entries: &[(u32, u32)], forward: u32, backward: u32, block_size: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(block_size);
    p.extend_from_slice(&u16::from(leaf).to_be_bytes());
    p.extend_from_slice(&(entries.len() as u16).to_be_bytes());
    be32(&mut p, forward);
    be32(&mut p, backward);
    for &(a, b) in entries {
        be32(&mut p, a);
        be32(&mut p, b);
    }
    p.resize(block_size, 0);
    p
}

/// The Bom of `entries`, which must start with `.` and list every parent before
/// its children.
pub fn write(entries: &[BomEntry]) -> Result<Vec<u8>, Error> {
    let bad = |m: String| Error::Value(format!("Bom: {m}"));
    if entries.first().map(|e| e.path.as_str()) != Some(".") {
        return Err(bad("the first path must be '.'".into()));
    }
    let mut blocks = Blocks(vec![Vec::new()]);
    let info_block = blocks.reserve();
    let paths_tree_block = blocks.reserve();

    // Path ids count from 1 in the given order.
    let mut ids: HashMap<&str, u32> = HashMap::with_capacity(entries.len());
    // (parent id, name, path-info block, file block)
    let mut keys: Vec<(u32, &str, u32, u32)> = Vec::with_capacity(entries.len());
    let mut total: u64 = 0;
    for (i, e) in entries.iter().enumerate() {
        let id = i as u32 + 1;
        let (parent, name) = if e.path == "." {
            (0, ".")
        } else {
            let (parent, name) = e.path.rsplit_once('/').ok_or_else(|| bad(format!("{}: not below '.'", e.path)))?;
            let parent_id = *ids.get(parent).ok_or_else(|| bad(format!("{}: parent {parent} is not listed before it", e.path)))?;
            (parent_id, name)
        };
        if ids.insert(&e.path, id).is_some() {
            return Err(bad(format!("{} is listed twice", e.path)));
        }
        let size = u32::try_from(e.size).map_err(|_| bad(format!("{}: files of 4 GiB or more are not supported", e.path)))?;
        total += e.size;

        let (kind, type_bits, cksum, link) = match &e.kind {
            BomKind::File { cksum } => (1u8, 0o100000, *cksum, None),
            BomKind::Dir => (2u8, 0o040000, 0, None),
            BomKind::Link { target, cksum } => (3u8, 0o120000, *cksum, Some(target.as_str())),
        };
        let mut r = vec![kind, 1];
        r.extend_from_slice(&0x000f_u16.to_be_bytes());
        r.extend_from_slice(&((type_bits | (e.mode & 0o7777)) as u16).to_be_bytes());
        be32(&mut r, e.uid);
        be32(&mut r, e.gid);
        be32(&mut r, e.mtime);
        be32(&mut r, size);
        r.push(1);
        be32(&mut r, cksum);
        match link {
            Some(target) => {
                be32(&mut r, target.len() as u32 + 1);
                r.extend_from_slice(target.as_bytes());
                r.extend_from_slice(&[0; 9]);
            }
            None => {
                be32(&mut r, 0);
                if kind == 1 {
                    r.extend_from_slice(&[0; 4]);
                }
            }
        }
        let record = blocks.push(r);
        let mut info = Vec::with_capacity(8);
        be32(&mut info, id);
        be32(&mut info, record);
        let info = blocks.push(info);
        let mut file = Vec::with_capacity(5 + name.len());
        be32(&mut file, parent);
        file.extend_from_slice(name.as_bytes());
        file.push(0);
        let file = blocks.push(file);
        keys.push((parent, name, info, file));
    }
    keys.sort_by(|a, b| (a.0, a.1.as_bytes()).cmp(&(b.0, b.1.as_bytes())));

    let leaves: Vec<&[(u32, &str, u32, u32)]> = keys.chunks(PER_LEAF).collect();
    if leaves.len() > MAX_CHILDREN {
        return Err(bad(format!("{} paths are more than one index level holds ({})", entries.len(), PER_LEAF * MAX_CHILDREN)));
    }
    let first_leaf = blocks.0.len() as u32;
    let n = leaves.len() as u32;
    for (k, leaf) in leaves.iter().enumerate() {
        let k = k as u32;
        let forward = if k + 1 < n { first_leaf + k + 1 } else { 0 };
        let backward = if k > 0 { first_leaf + k - 1 } else { 0 };
        let pairs: Vec<(u32, u32)> = leaf.iter().map(|&(_, _, info, file)| (info, file)).collect();
        blocks.push(paths_node(true, &pairs, forward, backward, TREE_BLOCK));
    }
    let root = if n == 1 {
        first_leaf
    } else {
        let pairs: Vec<(u32, u32)> = leaves.iter().enumerate().map(|(k, leaf)| (first_leaf + k as u32, leaf.last().expect("chunks are not empty").3)).collect();
        blocks.push(paths_node(false, &pairs, 0, 0, TREE_BLOCK))
    };
    blocks.set(paths_tree_block, tree(root, TREE_BLOCK, entries.len() as u32));

    let mut empty_tree = |block_size: usize| {
        let leaf = blocks.push(paths_node(true, &[], 0, 0, block_size));
        blocks.push(tree(leaf, block_size, 0))
    };
    let hl_index = empty_tree(TREE_BLOCK);
    let v_tree = empty_tree(VINDEX_BLOCK);
    let size64 = empty_tree(TREE_BLOCK);
    let mut vindex = Vec::new();
    be32(&mut vindex, 1);
    be32(&mut vindex, v_tree);
    be32(&mut vindex, 0);
    vindex.push(0);
    let vindex = blocks.push(vindex);

    let mut info = Vec::new();
    be32(&mut info, 1);
    be32(&mut info, entries.len() as u32 + 1);
    be32(&mut info, 1);
    for x in [0, 0, u32::try_from(total).unwrap_or(u32::MAX), 0] {
        be32(&mut info, x);
    }
    blocks.set(info_block, info);

    // Layout: header, blocks, variables, block index (with an empty free list).
    let mut out = vec![0u8; 512];
    let mut index = Vec::with_capacity(4 + 8 * blocks.0.len() + 20);
    be32(&mut index, blocks.0.len() as u32);
    for (i, b) in blocks.0.iter().enumerate() {
        if i == 0 {
            be32(&mut index, 0);
            be32(&mut index, 0);
        } else {
            be32(&mut index, out.len() as u32);
            be32(&mut index, b.len() as u32);
            out.extend_from_slice(b);
        }
    }
    be32(&mut index, 2);
    index.extend_from_slice(&[0; 16]);

    let mut vars = Vec::new();
    let list = [("BomInfo", info_block), ("Paths", paths_tree_block), ("HLIndex", hl_index), ("VIndex", vindex), ("Size64", size64)];
    be32(&mut vars, list.len() as u32);
    for (name, block) in list {
        be32(&mut vars, block);
        vars.push(name.len() as u8);
        vars.extend_from_slice(name.as_bytes());
    }
    let vars_offset = out.len() as u32;
    out.extend_from_slice(&vars);
    let index_offset = out.len() as u32;
    out.extend_from_slice(&index);

    let mut header = b"BOMStore".to_vec();
    be32(&mut header, 1);
    be32(&mut header, blocks.0.len() as u32 - 1);
    be32(&mut header, index_offset);
    be32(&mut header, index.len() as u32);
    be32(&mut header, vars_offset);
    be32(&mut header, vars.len() as u32);
    out[..header.len()].copy_from_slice(&header);
    Ok(out)
}
