//! Compressed streams made of independent pieces, each compressed once per build.
//!
//! [`Encoder`] is the compressor of the .deb's data.tar.xz and of the .pkg's
//! Payload (gzip). It cuts the uncompressed stream into pieces, has the build's
//! compressor threads (one pool for all its writers, see [`Cache`]) compress them,
//! and writes one stream as every reader of the format reads it:
//!
//! - **xz**: one .xz stream (stream header, the pieces as its blocks, their index,
//!   stream footer), the layout liblzma's multi-threaded encoder writes;
//! - **gzip**: one gzip member, whose deflate stream is the pieces' raw deflate
//!   data, each ended by a sync flush (an empty stored block, byte-aligned), then
//!   an empty final block, the CRC-32 and the size of the whole: the layout `pigz`
//!   writes. A reader sees one ordinary member; nothing depends on it accepting
//!   several.
//!
//! Where a piece ends depends only on the content since the previous end: before
//! an archive entry whose path hashes to a multiple of [`CUT_EVERY`], or after
//! [`MAX_PIECE`] bytes without one. Two archives that hold the same entries in a
//! stretch (the amd64 and arm64 packages share all of the gateway's JavaScript)
//! therefore cut that stretch into the same pieces, at most one piece after the
//! entries that differ. A [`Cache`] shared by the writers of one build keys every
//! compressed piece by the SHA-256 of its codec, level and uncompressed bytes: a
//! piece that another artifact of the build already compressed (or is
//! compressing) is taken from it instead of being compressed again. The bytes are
//! the same either way, so an artifact's bytes never depend on which others were
//! built with it.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use sha2::Digest as _;

use crate::write::HashWriter;
use crate::Error;

/// The longest piece, in uncompressed bytes. Small enough that the last pieces
/// of a build (Node.js itself, which xz -1 takes at about 15 MB/s) do not leave
/// one compressor thread waiting long for another.
pub const MAX_PIECE: usize = 8 << 20;
/// How far, in uncompressed bytes per compressor thread, the writer may run
/// ahead of the oldest piece not written yet.
const AHEAD: usize = 24 << 20;
/// One archive entry in this many starts a piece (on average about 8 MiB of
/// the gateway's tree).
pub const CUT_EVERY: u64 = 512;

/// How the pieces are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// xz (LZMA2) at a preset, CRC-64 checks.
    Xz(u32),
    /// gzip (deflate) at a level.
    Gzip(u32),
}

impl Codec {
    fn check(self) -> Result<Codec, Error> {
        match self {
            Codec::Xz(l) if l <= 9 => Ok(self),
            Codec::Gzip(l) if (1..=9).contains(&l) => Ok(self),
            Codec::Xz(l) => Err(Error::Value(format!("xz preset {l} (0 to 9)"))),
            Codec::Gzip(l) => Err(Error::Value(format!("gzip level {l} (1 to 9)"))),
        }
    }

    fn id(self) -> [u8; 2] {
        match self {
            Codec::Xz(l) => [b'x', l as u8],
            Codec::Gzip(l) => [b'g', l as u8],
        }
    }

    /// A piece as `content` says: compressed with the codec's settings; stored
    /// (xz's LZMA2 uncompressed chunks, deflate's stored blocks); or, for x86
    /// machine code, xz with its BCJ filter before LZMA2 (as `xz --x86` does;
    /// deflate has no such filter and compresses it as any piece).
    fn encode(self, content: Content, data: &[u8]) -> io::Result<Piece> {
        match (self, content) {
            (Codec::Xz(level), Content::Stored) => Ok(xz_stored_block(data, level)),
            (Codec::Gzip(_), Content::Stored) => deflate_piece(data, 0),
            (Codec::Xz(level), Content::X86) => xz_block_x86(data, level),
            (Codec::Xz(level), Content::Plain) => xz_block(data, level),
            (Codec::Gzip(level), Content::Plain | Content::X86) => deflate_piece(data, level),
        }
    }

    fn header(self) -> Vec<u8> {
        match self {
            Codec::Xz(_) => xz_stream_header().to_vec(),
            // No name, no time, "unknown" operating system.
            Codec::Gzip(_) => vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255],
        }
    }

    fn trailer(self, records: &[(u64, u64)], crc: u32, total: u64) -> Vec<u8> {
        match self {
            Codec::Xz(_) => xz_index_and_footer(records),
            Codec::Gzip(_) => {
                // An empty final block with fixed codes (BFINAL=1, BTYPE=01, end of block).
                let mut t = vec![0x03, 0x00];
                t.extend_from_slice(&crc.to_le_bytes());
                t.extend_from_slice(&(total as u32).to_le_bytes());
                t
            }
        }
    }
}

/// A compressed piece and its index record (xz: unpadded and uncompressed size).
#[derive(Debug)]
pub(crate) struct Piece {
    pub(crate) bytes: Vec<u8>,
    record: (u64, u64),
}

type Slot = Arc<OnceLock<Result<Arc<Piece>, String>>>;

/// The pieces compressed so far in one build and the build's compressor threads,
/// shared by its writers (cloning shares them). Every writer's pieces go to the
/// same few threads, as many as the build has cores: more compressors than cores
/// would only take turns. (The two .deb on 2 cores: 48.0 s of processor time with
/// two threads each, 41.5 s with one pool of two; one run each, on a machine whose
/// timings vary by a third from run to run.)
#[derive(Debug, Clone, Default)]
pub struct Cache {
    inner: Arc<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    /// Only one artifact uses it ([`Cache::unshared`]): no piece is looked up.
    unshared: bool,
    pieces: Mutex<HashMap<[u8; 32], Slot>>,
    pool: OnceLock<Pool>,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    compressed_in: AtomicU64,
    compressed_out: AtomicU64,
    reused_in: AtomicU64,
    reused_out: AtomicU64,
}

/// What a [`Cache`] saved: uncompressed and compressed bytes of the pieces
/// compressed, and of those taken from another artifact's work instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reuse {
    pub compressed_in: u64,
    pub compressed_out: u64,
    pub reused_in: u64,
    pub reused_out: u64,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    /// The threads of a cache, for a build of one artifact: it has no partner
    /// whose pieces it could take, so its pieces are not hashed to look them up
    /// (the SHA-256 of every byte, about 1 % of the processor time of a .deb).
    pub fn unshared() -> Cache {
        Cache { inner: Arc::new(CacheInner { unshared: true, ..CacheInner::default() }) }
    }

    pub fn reuse(&self) -> Reuse {
        let i = &self.inner.counts;
        Reuse {
            compressed_in: i.compressed_in.load(Ordering::Relaxed),
            compressed_out: i.compressed_out.load(Ordering::Relaxed),
            reused_in: i.reused_in.load(Ordering::Relaxed),
            reused_out: i.reused_out.load(Ordering::Relaxed),
        }
    }

    /// The bytes written to `data` compressed whole, as one stream (or frame) of
    /// its own, by `compress`; or the result of the writer of this build that
    /// compressed the same bytes the same way first (`codec` names the compressor
    /// and every setting that changes its output), waiting for it while it
    /// compresses. For streams that are not cut into pieces (the .rpm's zstd
    /// payload, whose long-distance matches span the whole stream). The bytes are
    /// known by the SHA-256 that `data` took while they were written (the writer
    /// needs it anyway), so they are not read once more to be looked up.
    pub(crate) fn whole(
        &self,
        codec: &str,
        data: &HashWriter<Vec<u8>, sha2::Sha256>,
        compress: impl FnOnce(&[u8]) -> io::Result<Vec<u8>>,
    ) -> io::Result<Arc<Piece>> {
        let data_sha = data.digest.clone().finalize();
        let data = &data.inner[..];
        let len = data.len() as u64;
        let mut compressed = false;
        let run = || {
            compressed = true;
            compress(data).map(|bytes| Arc::new(Piece { bytes, record: (0, len) })).map_err(|e| e.to_string())
        };
        let piece = if self.inner.unshared {
            run()
        } else {
            let mut h = sha2::Sha256::new();
            h.update(codec.as_bytes());
            h.update([0]);
            h.update(data_sha);
            self.slot(h.finalize().into()).get_or_init(run).clone()
        }
        .map_err(io::Error::other)?;
        self.inner.counts.count(compressed, len, piece.bytes.len() as u64);
        Ok(piece)
    }

    /// Counts `data` bytes that a writer compressed itself into `out` bytes (the
    /// .rpm's second frame), so that [`Cache::reuse`] covers every archive.
    pub(crate) fn count_compressed(&self, data: u64, out: u64) {
        self.inner.counts.count(true, data, out);
    }

    /// The slot of a piece.
    fn slot(&self, key: [u8; 32]) -> Slot {
        let mut map = self.inner.pieces.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(key).or_default())
    }

    /// The build's compressor threads (`threads` of them, started by the first
    /// writer that asks).
    fn pool(&self, threads: usize) -> &Pool {
        self.inner.pool.get_or_init(|| Pool::new(threads))
    }
}

impl Counts {
    fn count(&self, compressed: bool, data: u64, out: u64) {
        let i = self;
        let (into_in, into_out) = if compressed { (&i.compressed_in, &i.compressed_out) } else { (&i.reused_in, &i.reused_out) };
        into_in.fetch_add(data, Ordering::Relaxed);
        into_out.fetch_add(out, Ordering::Relaxed);
    }
}

/// The stream flags of every xz stream here: check type CRC-64.
fn xz_stream_flags() -> [u8; 2] {
    [0, liblzma::stream::Check::Crc64 as u8]
}

fn xz_stream_header() -> [u8; 12] {
    let mut h = [0u8; 12];
    h[..6].copy_from_slice(b"\xfd7zXZ\0");
    h[6..8].copy_from_slice(&xz_stream_flags());
    h[8..].copy_from_slice(&crc32fast::hash(&xz_stream_flags()).to_le_bytes());
    h
}

/// Compresses one xz block: an xz stream of one block from liblzma, of which the
/// block is kept and the stream's own header, index and footer are dropped.
fn xz_block(data: &[u8], level: u32) -> io::Result<Piece> {
    let stream = liblzma::stream::Stream::new_easy_encoder(level, liblzma::stream::Check::Crc64).map_err(io::Error::other)?;
    xz_block_from(stream, data)
}

/// [`xz_block`] with the x86 BCJ filter before LZMA2 at the same preset: the
/// filter turns the relative addresses of calls and jumps into absolute ones, so
/// that calls to the same function repeat. Every liblzma reads it (the filter is
/// as old as the format; the ARM64 one is not, so only x86 code gets a filter).
fn xz_block_x86(data: &[u8], level: u32) -> io::Result<Piece> {
    let lzma2 = liblzma::stream::LzmaOptions::new_preset(level).map_err(io::Error::other)?;
    let mut filters = liblzma::stream::Filters::new();
    filters.x86().lzma2(&lzma2);
    let stream = liblzma::stream::Stream::new_stream_encoder(&filters, liblzma::stream::Check::Crc64).map_err(io::Error::other)?;
    xz_block_from(stream, data)
}

fn xz_block_from(stream: liblzma::stream::Stream, data: &[u8]) -> io::Result<Piece> {
    let mut xz = liblzma::write::XzEncoder::new_stream(Vec::with_capacity(data.len() / 3), stream);
    xz.write_all(data)?;
    let whole = xz.finish()?;
    let bad = |what: &str| io::Error::other(format!("liblzma wrote an unexpected stream ({what})"));
    if whole.len() < 24 || whole[..12] != xz_stream_header() {
        return Err(bad("header"));
    }
    let footer = &whole[whole.len() - 12..];
    let backward = (u64::from(u32::from_le_bytes(footer[4..8].try_into().expect("4 bytes"))) + 1) * 4;
    let index_start = (whole.len() as u64 - 12).checked_sub(backward).filter(|&s| s >= 12).ok_or_else(|| bad("footer"))? as usize;
    let mut index = &whole[index_start..];
    if index.first() != Some(&0) {
        return Err(bad("index indicator"));
    }
    index = &index[1..];
    let records = read_varint(&mut index).ok_or_else(|| bad("index"))?;
    let unpadded = read_varint(&mut index).ok_or_else(|| bad("index"))?;
    let uncompressed = read_varint(&mut index).ok_or_else(|| bad("index"))?;
    if records != 1 || uncompressed != data.len() as u64 || unpadded.div_ceil(4) * 4 != (index_start - 12) as u64 {
        return Err(bad("index records"));
    }
    let mut bytes = whole;
    bytes.truncate(index_start);
    bytes.drain(..12);
    Ok(Piece { bytes, record: (unpadded, uncompressed) })
}

/// The dictionary size of an xz preset (xz(1)), as the one byte of LZMA2's
/// filter properties.
fn lzma2_dict_property(level: u32) -> u8 {
    // 256 KiB, 1, 2, 4, 4, 8, 8, 16, 32 and 64 MiB: 2^(12 + n/2) for even n.
    [12, 16, 18, 20, 20, 22, 22, 24, 26, 28][level.min(9) as usize]
}

/// One xz block that holds `data` as it is, in LZMA2 uncompressed chunks of at
/// most 64 KiB (the first resets the dictionary): the layout LZMA2 gives data
/// that does not compress, written without running the compressor over it. The
/// block header names LZMA2 with the preset's dictionary, as liblzma's blocks do.
fn xz_stored_block(data: &[u8], level: u32) -> Piece {
    // Header: size, flags (one filter, no sizes), LZMA2's filter flags, padding, CRC-32.
    let mut bytes = vec![0, 0, 0x21, 1, lzma2_dict_property(level), 0, 0, 0];
    // Its size, CRC-32 included, in units of 4 bytes, less one.
    bytes[0] = (bytes.len() as u8 + 4) / 4 - 1;
    bytes.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
    bytes.reserve(data.len() + data.len() / 65536 * 3 + 16);
    for (i, chunk) in data.chunks(1 << 16).enumerate() {
        bytes.push(if i == 0 { 1 } else { 2 });
        bytes.extend_from_slice(&((chunk.len() - 1) as u16).to_be_bytes());
        bytes.extend_from_slice(chunk);
    }
    bytes.push(0);
    let unpadded = bytes.len() as u64 + 8;
    bytes.resize(bytes.len().next_multiple_of(4), 0);
    bytes.extend_from_slice(&crc64(data).to_le_bytes());
    Piece { bytes, record: (unpadded, data.len() as u64) }
}

/// CRC-64 as xz checks it (ECMA-182, reflected; xz's file-format description).
fn crc64(data: &[u8]) -> u64 {
    static TABLE: OnceLock<[u64; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| std::array::from_fn(|i| (0..8).fold(i as u64, |c, _| if c & 1 == 1 { (c >> 1) ^ 0xc96c_5795_d787_0f42 } else { c >> 1 })));
    !data.iter().fold(!0u64, |c, &b| table[((c ^ u64::from(b)) & 0xff) as usize] ^ (c >> 8))
}

/// The index of the blocks and the stream footer.
fn xz_index_and_footer(records: &[(u64, u64)]) -> Vec<u8> {
    let mut index = vec![0u8];
    write_varint(&mut index, records.len() as u64);
    for &(unpadded, uncompressed) in records {
        write_varint(&mut index, unpadded);
        write_varint(&mut index, uncompressed);
    }
    while !index.len().is_multiple_of(4) {
        index.push(0);
    }
    index.extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
    let mut footer = Vec::with_capacity(10);
    footer.extend_from_slice(&((index.len() / 4 - 1) as u32).to_le_bytes());
    footer.extend_from_slice(&xz_stream_flags());
    let mut out = index;
    out.extend_from_slice(&crc32fast::hash(&footer).to_le_bytes());
    out.extend_from_slice(&footer);
    out.extend_from_slice(b"YZ");
    out
}

fn read_varint(b: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..9 {
        let (&byte, rest) = b.split_first()?;
        *b = rest;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Raw deflate of one piece, ended by a sync flush so that the next piece's data
/// starts on a byte boundary, with no final block.
fn deflate_piece(data: &[u8], level: u32) -> io::Result<Piece> {
    let mut z = flate2::Compress::new(flate2::Compression::new(level), false);
    // More than deflate's worst case (stored blocks), so one call does it all.
    let mut out = Vec::with_capacity(data.len() + data.len() / 16 + 1024);
    let mut input = data;
    loop {
        let before = z.total_in();
        z.compress_vec(input, &mut out, flate2::FlushCompress::Sync).map_err(io::Error::other)?;
        input = &input[(z.total_in() - before) as usize..];
        // Done when all input is in and the flush fitted (room was left over).
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity());
    }
    Ok(Piece { record: (0, data.len() as u64), bytes: out })
}

/// What the entries of a piece are, and so how it is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Compressed with the codec's settings.
    Plain,
    /// Stored: their format is compressed already (see [`Encoder::stored_entry`]).
    Stored,
    /// x86 or x86-64 machine code (see [`Encoder::x86_entry`]).
    X86,
}

enum Pending {
    Running(Receiver<io::Result<Arc<Piece>>>, usize),
    Done(Arc<Piece>),
}

type Job = Box<dyn FnOnce() + Send>;

/// `threads` workers that take jobs in the order they were given.
#[derive(Debug)]
struct Pool {
    jobs: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    fn new(threads: usize) -> Pool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
            })
            .collect();
        Pool { jobs: Some(tx), workers }
    }

    fn run(&self, job: Job) -> io::Result<()> {
        self.jobs.as_ref().and_then(|j| j.send(job).ok()).ok_or_else(|| io::Error::other("the compressor threads stopped"))
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// The encoder: a [`Write`] of the uncompressed stream that writes the compressed
/// stream to `out`. [`Encoder::entry`] marks where an archive entry starts;
/// [`Encoder::finish`] writes what is left and the stream's end.
pub struct Encoder<W: Write> {
    out: W,
    codec: Codec,
    threads: usize,
    cache: Cache,
    buf: Vec<u8>,
    /// What the piece being filled holds.
    content: Content,
    pending: VecDeque<Pending>,
    /// Uncompressed bytes of the pieces given to the workers and not written yet.
    in_flight: usize,
    records: Vec<(u64, u64)>,
    crc: crc32fast::Hasher,
    total: u64,
}

impl<W: Write> Encoder<W> {
    /// Writes the stream's header to `out` at once.
    pub fn new(mut out: W, codec: Codec, threads: u32, cache: Cache) -> Result<Encoder<W>, Error> {
        let codec = codec.check()?;
        out.write_all(&codec.header()).map_err(|e| Error::encode(format!("the {codec:?} stream's header"), e))?;
        Ok(Encoder {
            out,
            codec,
            threads: threads.max(1) as usize,
            cache,
            buf: Vec::with_capacity(MAX_PIECE),
            content: Content::Plain,
            pending: VecDeque::new(),
            in_flight: 0,
            records: Vec::new(),
            crc: crc32fast::Hasher::new(),
            total: 0,
        })
    }

    /// An archive entry named `path` starts here: a piece ends before it when the
    /// path says so (see the module's description).
    pub fn entry(&mut self, path: &str) -> io::Result<()> {
        if !self.buf.is_empty() && (self.content != Content::Plain || path_hash(path).is_multiple_of(CUT_EVERY)) {
            self.cut()?;
        }
        self.content = Content::Plain;
        Ok(())
    }

    /// An archive entry starts here whose bytes do not compress (see
    /// [`crate::stage::compressed_format`]): it goes into a piece that is stored,
    /// with the stored entries right before and after it, not compressed. The
    /// piece ends where the first entry to compress starts (or after
    /// [`MAX_PIECE`] bytes), so where it ends depends on the content too.
    pub fn stored_entry(&mut self) -> io::Result<()> {
        self.special_entry(Content::Stored)
    }

    /// An archive entry starts here that is x86 or x86-64 machine code (an ELF
    /// file of those machines, see [`crate::stage::x86_code`]): it goes into a
    /// piece of such entries, which xz compresses with its x86 filter (about 3 %
    /// smaller and 7 % faster on Node.js than without). Where that piece ends
    /// depends on the content, as for stored entries.
    pub fn x86_entry(&mut self) -> io::Result<()> {
        self.special_entry(Content::X86)
    }

    fn special_entry(&mut self, content: Content) -> io::Result<()> {
        if !self.buf.is_empty() && self.content != content {
            self.cut()?;
        }
        self.content = content;
        Ok(())
    }

    /// Ends the current piece and hands it to a compressor.
    fn cut(&mut self) -> io::Result<()> {
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(MAX_PIECE));
        if matches!(self.codec, Codec::Gzip(_)) {
            self.crc.update(&data);
        }
        self.total += data.len() as u64;
        let slot = if self.cache.inner.unshared {
            None
        } else {
            let key: [u8; 32] = {
                let mut h = sha2::Sha256::new();
                h.update(self.codec.id());
                h.update([self.content as u8]);
                h.update(&data);
                h.finalize().into()
            };
            Some(self.cache.slot(key))
        };
        let pending = match slot.as_ref().and_then(|s| s.get()) {
            Some(done) => {
                let piece = done.clone().map_err(io::Error::other)?;
                self.cache.inner.counts.count(false, data.len() as u64, piece.bytes.len() as u64);
                Pending::Done(piece)
            }
            None => {
                // The job holds the counts, not the cache: the pool must not be
                // dropped, and wait for itself, on one of its own threads.
                let (codec, content, counts, len) = (self.codec, self.content, Arc::clone(&self.cache.inner.counts), data.len());
                let (tx, rx) = mpsc::sync_channel(1);
                self.cache.pool(self.threads).run(Box::new(move || {
                    let mut compressed = false;
                    let mut compress = || {
                        compressed = true;
                        codec.encode(content, &data).map(Arc::new).map_err(|e| e.to_string())
                    };
                    // Whoever comes first compresses; the others wait for its result.
                    let done = match &slot {
                        Some(slot) => slot.get_or_init(compress).clone(),
                        None => compress(),
                    };
                    let piece = done.map_err(io::Error::other);
                    if let Ok(p) = &piece {
                        counts.count(compressed, data.len() as u64, p.bytes.len() as u64);
                    }
                    let _ = tx.send(piece);
                }))?;
                self.in_flight += len;
                Pending::Running(rx, len)
            }
        };
        self.pending.push_back(pending);
        // The workers take pieces in order; while they compress, this thread fills
        // the next ones, up to [`AHEAD`] bytes per worker and one share more
        // (pieces differ in size: a worker that finished small ones goes on
        // while another compresses a large one).
        while self.in_flight > (self.threads + 1) * AHEAD {
            self.write_oldest()?;
        }
        Ok(())
    }

    /// Waits for the oldest pending piece and writes it.
    fn write_oldest(&mut self) -> io::Result<()> {
        let piece = match self.pending.pop_front() {
            None => return Ok(()),
            Some(Pending::Done(p)) => p,
            Some(Pending::Running(rx, len)) => {
                self.in_flight -= len;
                rx.recv().map_err(|_| io::Error::other("a compressor thread panicked"))??
            }
        };
        self.out.write_all(&piece.bytes)?;
        self.records.push(piece.record);
        Ok(())
    }

    /// Writes the rest and the end of the stream; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() {
            self.cut()?;
        }
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        let trailer = self.codec.trailer(&self.records, self.crc.clone().finalize(), self.total);
        self.out.write_all(&trailer)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// FNV-1a of a path: the same on every machine and every run.
fn path_hash(path: &str) -> u64 {
    path.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(MAX_PIECE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == MAX_PIECE {
            self.cut()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn decode(codec: Codec, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match codec {
            Codec::Xz(_) => liblzma::read::XzDecoder::new(bytes).read_to_end(&mut out).unwrap(),
            // One member: a multi-member reader would hide a second one.
            Codec::Gzip(_) => flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap(),
        };
        out
    }

    const CODECS: [Codec; 2] = [Codec::Xz(1), Codec::Gzip(6)];

    /// Pseudo-random bytes that compress a little, as a tree of files does.
    fn data(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 3 == 0 {
                    b'a'
                } else {
                    (x % 16) as u8 + b'a'
                }
            })
            .collect()
    }

    fn encode(codec: Codec, entries: &[(String, Vec<u8>)], threads: u32, cache: &Cache) -> Vec<u8> {
        let mut w = Encoder::new(Vec::new(), codec, threads, cache.clone()).unwrap();
        for (path, bytes) in entries {
            if crate::stage::compressed_format(path) {
                w.stored_entry().unwrap();
            } else if crate::stage::x86_code(bytes) {
                w.x86_entry().unwrap();
            } else {
                w.entry(path).unwrap();
            }
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn liblzma_and_flate2_read_every_shape_back() {
        let many: Vec<(String, Vec<u8>)> = (0..2000).map(|i| (format!("/usr/lib/f{i}"), data(i, 5_000))).collect();
        let whole: Vec<u8> = many.iter().flat_map(|(_, b)| b.clone()).collect();
        let big = vec![("big".to_owned(), data(7, MAX_PIECE + 5))];
        for codec in CODECS {
            let cache = Cache::new();
            assert_eq!(decode(codec, &encode(codec, &[], 2, &cache)), b"");
            let one = vec![("a".to_owned(), b"x".to_vec())];
            assert_eq!(decode(codec, &encode(codec, &one, 2, &cache)), b"x");
            // Many entries and longer than a piece: several pieces.
            for threads in [1, 3] {
                assert_eq!(decode(codec, &encode(codec, &many, threads, &Cache::new())), whole, "{codec:?}");
            }
            assert_eq!(decode(codec, &encode(codec, &big, 2, &Cache::new())), big[0].1, "{codec:?}");
        }
        assert!(Encoder::new(Vec::new(), Codec::Gzip(0), 1, Cache::new()).is_err());
    }

    #[test]
    fn stored_entries_are_read_back_and_not_compressed() {
        // Stored entries alone, first, last, between others, and a stretch of
        // them longer than a piece.
        let text = |i: u64| (format!("/usr/lib/f{i}.js"), data(i, 30_000));
        let image = |i: u64, len: usize| (format!("/usr/lib/i{i}.png"), data(i + 100, len));
        let shapes: Vec<Vec<(String, Vec<u8>)>> = vec![
            vec![image(1, 70_000)],
            vec![image(1, 1), text(2), text(3)],
            vec![text(1), image(2, 65_536), image(3, 65_537), text(4), image(5, 10)],
            vec![text(1), image(2, MAX_PIECE + 70_000), text(3)],
        ];
        for codec in CODECS {
            for entries in &shapes {
                let whole: Vec<u8> = entries.iter().flat_map(|(_, b)| b.clone()).collect();
                let out = encode(codec, entries, 2, &Cache::new());
                assert_eq!(decode(codec, &out), whole, "{codec:?}");
            }
        }
        // The stored stretch takes its own bytes and a few more: the compressed
        // entries around it are as small as alone, the stored one barely grows.
        let (a, b) = (text(1), text(3));
        let img = image(2, 1 << 20);
        for codec in CODECS {
            let around = encode(codec, &[a.clone(), b.clone()], 1, &Cache::new()).len();
            let with = encode(codec, &[a.clone(), img.clone(), b.clone()], 1, &Cache::new()).len();
            let grown = with - around;
            assert!((img.1.len()..img.1.len() + img.1.len() / 500 + 200).contains(&grown), "{codec:?}: {grown} bytes for a stored MiB");
        }
        // xz's check of a stored block: CRC-64 as xz computes it.
        assert_eq!(crc64(b"123456789"), 0x995d_c9bb_df19_39fa);
        assert_eq!(crc64(b""), 0);
        assert!(Encoder::new(Vec::new(), Codec::Xz(10), 1, Cache::new()).is_err());
    }

    /// An x86-64 ELF file of `len` bytes whose code calls a few functions from
    /// everywhere (`call rel32`, whose operand the x86 filter makes absolute).
    fn x86_file(seed: u64, len: usize) -> Vec<u8> {
        let mut f = data(seed, len.max(64));
        f[..20].copy_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\x3e\0");
        for at in (64..f.len().saturating_sub(5)).step_by(16) {
            let target = [0x1000i64, 0x8000, 0x20000][at % 3];
            f[at] = 0xe8;
            f[at + 1..at + 5].copy_from_slice(&((target - (at as i64 + 5)) as i32).to_le_bytes());
        }
        f.truncate(len.max(20));
        f
    }

    #[test]
    fn x86_entries_are_read_back_and_filtered_by_xz_only() {
        let text = |i: u64| (format!("/usr/lib/f{i}.js"), data(i, 30_000));
        let code = |i: u64, len: usize| (format!("/usr/lib/c{i}.node"), x86_file(i, len));
        let shapes: Vec<Vec<(String, Vec<u8>)>> = vec![
            vec![code(1, 70_000)],
            vec![code(1, 20), text(2), code(3, 1000)],
            vec![text(1), code(2, 65_536), code(3, 65_537), text(4)],
            vec![text(1), code(2, MAX_PIECE + 70_000), text(3)],
        ];
        for codec in CODECS {
            for entries in &shapes {
                let whole: Vec<u8> = entries.iter().flat_map(|(_, b)| b.clone()).collect();
                assert_eq!(decode(codec, &encode(codec, entries, 2, &Cache::new())), whole, "{codec:?}");
            }
        }
        // xz: a block of its own whose header names the x86 filter (ID 4) before
        // LZMA2 (0x21), and the calls compress better for it.
        let code = x86_file(1, 1 << 20);
        let piece = Codec::Xz(1).encode(Content::X86, &code).unwrap();
        assert_eq!((piece.bytes[1] & 3, piece.bytes[2], piece.bytes[4]), (1, 0x04, 0x21), "block header {:02x?}", &piece.bytes[..8]);
        let plain = Codec::Xz(1).encode(Content::Plain, &code).unwrap();
        assert!(piece.bytes.len() < plain.bytes.len() * 9 / 10, "x86 filter {} bytes, without {}", piece.bytes.len(), plain.bytes.len());
        // deflate has no filter: the same piece either way.
        assert_eq!(Codec::Gzip(6).encode(Content::X86, &code).unwrap().bytes, Codec::Gzip(6).encode(Content::Plain, &code).unwrap().bytes);
    }

    #[test]
    fn shared_entries_are_compressed_once_and_the_bytes_do_not_depend_on_it() {
        let common: Vec<(String, Vec<u8>)> = (0..4000).map(|i| (format!("/usr/lib/app/f{i}"), data(i, 2_000))).collect();
        let mut amd64 = common.clone();
        let mut arm64 = common.clone();
        // An architecture's own entries, early and at the end.
        amd64.insert(100, ("/usr/lib/app/x64.node".to_owned(), data(1, 300_000)));
        arm64.insert(100, ("/usr/lib/app/arm64.node".to_owned(), data(2, 500_000)));
        // Stored entries in the shared stretch.
        for c in [&mut amd64, &mut arm64] {
            c.insert(2000, ("/usr/lib/app/logo.png".to_owned(), data(9, 200_000)));
        }
        amd64.push(("/usr/lib/node".to_owned(), data(3, 1_000_000)));
        arm64.push(("/usr/lib/node".to_owned(), data(4, 900_000)));
        let arm64_len: usize = arm64.iter().map(|(_, b)| b.len()).sum();
        let amd64_len: usize = amd64.iter().map(|(_, b)| b.len()).sum();

        for codec in CODECS {
            let alone = encode(codec, &arm64, 2, &Cache::new());
            let cache = Cache::new();
            let first = encode(codec, &amd64, 2, &cache);
            assert_eq!(cache.reuse().reused_in, 0);
            let second = encode(codec, &arm64, 2, &cache);
            assert_eq!(second, alone, "{codec:?}: reusing pieces changed the bytes");
            // A cache for one artifact looks nothing up, and writes the same bytes.
            let unshared = Cache::unshared();
            assert_eq!(encode(codec, &arm64, 2, &unshared), alone, "{codec:?}");
            assert_eq!(encode(codec, &arm64, 2, &unshared), alone, "{codec:?}");
            assert_eq!((unshared.reuse().reused_in, unshared.reuse().compressed_in), (0, 2 * arm64_len as u64), "{codec:?}");
            assert_eq!(decode(codec, &first), amd64.iter().flat_map(|(_, b)| b.clone()).collect::<Vec<u8>>());
            // All but the pieces of the entries that differ (and the one after them).
            let reuse = cache.reuse();
            assert!(reuse.reused_in as usize * 10 > arm64_len * 7, "{codec:?}: too little reused: {reuse:?} of {arm64_len}");
            assert_eq!(reuse.compressed_in + reuse.reused_in, (arm64_len + amd64_len) as u64);
            // A piece of another codec is not taken.
            let other = match codec {
                Codec::Xz(_) => Codec::Gzip(6),
                Codec::Gzip(_) => Codec::Xz(1),
            };
            encode(other, &arm64, 2, &cache);
            assert_eq!(cache.reuse().reused_in, reuse.reused_in, "{codec:?} pieces taken for {other:?}");
        }
    }

    #[test]
    fn a_whole_stream_is_compressed_once_per_build() {
        let calls = std::cell::Cell::new(0);
        let compress = |d: &[u8]| {
            calls.set(calls.get() + 1);
            Ok(d.iter().rev().copied().collect::<Vec<u8>>())
        };
        let written = |bytes: &[u8]| {
            let mut w = HashWriter::new(Vec::new());
            for part in bytes.chunks(2) {
                w.write_all(part).unwrap();
            }
            w
        };
        let cache = Cache::new();
        let a = cache.whole("zstd 12", &written(b"abc"), compress).unwrap();
        let b = cache.whole("zstd 12", &written(b"abc"), compress).unwrap();
        assert_eq!((a.bytes.as_slice(), b.bytes.as_slice(), calls.get()), (&b"cba"[..], &b"cba"[..], 1));
        // Other settings or other bytes: compressed again.
        cache.whole("zstd 19", &written(b"abc"), compress).unwrap();
        cache.whole("zstd 12", &written(b"abd"), compress).unwrap();
        assert_eq!(calls.get(), 3);
        assert_eq!(cache.reuse(), Reuse { compressed_in: 9, compressed_out: 9, reused_in: 3, reused_out: 3 });
        // A failure is everyone's.
        let failed = Cache::new();
        assert!(failed.whole("z", &written(b"x"), |_| Err(io::Error::other("no room"))).is_err());
        assert!(failed.whole("z", &written(b"x"), compress).unwrap_err().to_string().contains("no room"));
        // Alone: nothing is looked up.
        let alone = Cache::unshared();
        alone.whole("zstd 12", &written(b"abc"), compress).unwrap();
        alone.whole("zstd 12", &written(b"abc"), compress).unwrap();
        assert_eq!(calls.get(), 5);
    }

    #[test]
    fn a_path_hash_is_fixed() {
        // Changing the hash moves every block boundary: packages built before and
        // after would differ.
        assert_eq!(path_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(path_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
