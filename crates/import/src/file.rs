//! Block files: the format of `geth export` and `reth export`, optionally gzip-compressed.
//!
//! A block file is a plain concatenation of RLP block records with no framing of its own: each record is one
//! RLP list, and its length prefix says where the next one starts. A record has 3, 4 or 5 elements:
//!
//! | elements | layout | written for |
//! |---|---|---|
//! | 3 | `[header, transactions, ommers]` | blocks before Shanghai |
//! | 4 | `[header, transactions, ommers, withdrawals]` | Shanghai and later |
//! | 5 | `[header, transactions, ommers, withdrawals, blockAccessList]` | Amsterdam blocks exported with their BAL |
//!
//! Transactions use the network encoding of a block body: a legacy transaction is an RLP list, a typed
//! transaction an RLP string wrapping its EIP-2718 bytes. The fifth element is the EIP-7928 block access list
//! itself (an RLP list of account changes), not a string wrapping it. The BAL is not part of the block hash: the
//! header commits to it only through `block_access_list_hash`.
//!
//! A file is gzip-compressed when it starts with the gzip magic bytes, whatever its name. [`BlockFileReader`]
//! streams it record by record (a multi-GB file is never held in memory), and [`BlockFileWriter`] writes one
//! (gzip when the path ends in `.gz`). [`decode_record`] decodes one record held in memory, such as a
//! blockchain test's `rlp` field.

use std::{
    fmt,
    fs::File,
    io::{self, BufRead, BufReader, BufWriter, Cursor, Read, Write},
    path::{Path, PathBuf},
};

use balnode_primitives::{
    Block, BlockBody, Bytes, Header, TxEnvelope,
    consensus::TxEip4844Variant,
    eips::{
        eip2718::{Decodable2718, Eip2718Error},
        eip4895::Withdrawals,
        eip7928::BlockAccessList,
    },
    rlp::{self, Decodable, Encodable},
};
use flate2::{Compression, read::MultiGzDecoder, write::GzEncoder};
use tracing::debug;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The RLP encoding of an empty list.
const EMPTY_LIST: u8 = rlp::EMPTY_LIST_CODE;

/// The largest record the reader accepts, in bytes.
///
/// No block comes near this (a 60 Mgas block full of calldata is under 4 MiB), so a larger length prefix means a
/// corrupt file: the limit keeps a damaged length byte from reading gigabytes into memory before the error shows.
pub const MAX_RECORD_SIZE: u64 = 256 * 1024 * 1024;

/// Buffer size of the reader over the (decompressed) stream.
const READ_BUFFER: usize = 256 * 1024;

/// Buffer size of the writer.
const WRITE_BUFFER: usize = 256 * 1024;

/// A block record read from a block file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRecord {
    /// The block: header, transactions, ommers and withdrawals.
    pub block: Block,
    /// The raw RLP of the record's block access list (its fifth element), as the store keeps it.
    pub block_access_list: Option<Bytes>,
    /// The same block access list, decoded (the reader decodes it to check it, so it is kept).
    pub decoded_block_access_list: Option<BlockAccessList>,
    /// Byte offset of the record in the (decompressed) stream.
    pub offset: u64,
    /// 0-based index of the record in the file.
    pub index: u64,
    /// Size of the record in bytes, length prefix included.
    pub size: usize,
}

impl BlockRecord {
    /// The block number from the header.
    pub const fn number(&self) -> u64 {
        self.block.header.number
    }

    /// The record's RLP as [`BlockFileWriter`] writes it.
    ///
    /// For a record read from a canonical file this gives back the bytes that were read.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size);
        encode_record(&self.block, self.block_access_list.as_ref().map(|bal| &bal[..]), &mut out);
        out
    }
}

/// Appends the RLP record of `block` (with its block access list, if given) to `out`.
///
/// `block_access_list` must be the RLP of one list (as [`BlockFileWriter::write`] checks); it is copied as is.
///
/// With a block access list the withdrawals element is always written, as an empty list when the block has no
/// withdrawals. This follows geth: its `extblock` has the access list after the withdrawals, both
/// `rlp:"optional"`, and Go's RLP encoder writes an unset optional field as its zero value (an empty list, for a
/// slice) whenever a later optional field is set. (This is read from the Go encoding rules, not checked against a
/// file geth wrote.) Reading such a record back gives the block's withdrawals again: an empty element is read as
/// none when the header has no withdrawals root (a block before Shanghai, in a `balnode bal generate` export).
pub fn encode_record(block: &Block, block_access_list: Option<&[u8]>, out: &mut Vec<u8>) {
    let Some(bal) = block_access_list else {
        block.encode(out);
        return;
    };
    let BlockBody { transactions, ommers, withdrawals } = &block.body;
    let withdrawals_length = withdrawals.as_ref().map_or(1, Encodable::length);
    let payload_length = block.header.length()
        + transactions.length()
        + ommers.length()
        + withdrawals_length
        + bal.len();
    rlp::Header { list: true, payload_length }.encode(out);
    block.header.encode(out);
    transactions.encode(out);
    ommers.encode(out);
    match withdrawals {
        Some(withdrawals) => withdrawals.encode(out),
        None => out.push(EMPTY_LIST),
    }
    out.extend_from_slice(bal);
}

/// Decodes one block record standing alone in `rlp` (its `offset` and `index` are 0).
///
/// The whole input must be the record: bytes after its list are an error. This is the decoder the reader uses
/// for each record of a file, so a blockchain test's `rlp` field goes through the same checks.
pub fn decode_record(rlp: &[u8]) -> Result<BlockRecord, RecordError> {
    decode_record_at(rlp, 0, 0).map_err(|(error, _)| error)
}

/// The elements of a block record, to say where in a record something is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordElement {
    /// The record's outer list.
    Record,
    /// The block header (element 1).
    Header,
    /// The transaction list (element 2).
    Transactions,
    /// The ommer list (element 3).
    Ommers,
    /// The withdrawal list (element 4).
    Withdrawals,
    /// The block access list (element 5).
    BlockAccessList,
    /// An element past the fifth (1-based position).
    Extra(usize),
}

impl RecordElement {
    /// The element at 0-based position `position` of a record.
    const fn at(position: usize) -> Self {
        match position {
            0 => Self::Header,
            1 => Self::Transactions,
            2 => Self::Ommers,
            3 => Self::Withdrawals,
            4 => Self::BlockAccessList,
            n => Self::Extra(n + 1),
        }
    }
}

impl fmt::Display for RecordElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Record => f.write_str("record list"),
            Self::Header => f.write_str("block header"),
            Self::Transactions => f.write_str("transaction list"),
            Self::Ommers => f.write_str("ommer list"),
            Self::Withdrawals => f.write_str("withdrawal list"),
            Self::BlockAccessList => f.write_str("block access list"),
            Self::Extra(position) => write!(f, "element {position}"),
        }
    }
}

/// What is wrong inside one block record, whatever file it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The input holds no bytes at all.
    #[error("the record is empty")]
    Empty,
    /// The record does not start with an RLP list prefix.
    #[error("the record is not an RLP list (it starts with byte {first:#04x})")]
    NotAList {
        /// The first byte of the record.
        first: u8,
    },
    /// An element (or the record's own list prefix) is not valid RLP of the expected shape.
    #[error("malformed RLP in the {element}: {source}")]
    Malformed {
        /// Where in the record.
        element: RecordElement,
        /// What the RLP decoder said.
        #[source]
        source: rlp::Error,
    },
    /// Bytes left over after an element decoded (or, for [`RecordElement::Record`], after the record's list).
    #[error("{count} trailing bytes after the {element}")]
    TrailingBytes {
        /// The element the bytes follow.
        element: RecordElement,
        /// How many bytes are left over.
        count: usize,
    },
    /// The record's list has a number of elements no block layout has.
    #[error(
        "the record has {count} elements, expected 3 (header, transactions, ommers), 4 (and withdrawals) \
         or 5 (and a block access list)"
    )]
    ElementCount {
        /// The number of elements found.
        count: usize,
    },
    /// A transaction of the transaction list does not decode.
    #[error("malformed transaction {index} (0-based) in the transaction list: {source}")]
    Transaction {
        /// The transaction's 0-based position in the block.
        index: usize,
        /// What the decoder said.
        #[source]
        source: rlp::Error,
    },
    /// A typed transaction has a type this node does not know.
    #[error("transaction {index} (0-based) has the unknown type {ty:#04x}")]
    TransactionType {
        /// The transaction's 0-based position in the block.
        index: usize,
        /// Its EIP-2718 type byte.
        ty: u8,
    },
    /// A blob transaction carries its sidecar (blobs, commitments, proofs): that is the network form of the
    /// transaction pool, never part of a block.
    #[error(
        "transaction {index} (0-based) is a blob transaction with its sidecar, which a block never holds"
    )]
    BlobSidecarInBlock {
        /// The transaction's 0-based position in the block.
        index: usize,
    },
    /// The fifth element is an RLP string, where the block access list is a list.
    #[error("the block access list is an RLP string, expected a list")]
    BlockAccessListNotAList,
}

/// Where in a block file a record is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLocation {
    /// The file, when the reader was opened from a path.
    pub path: Option<PathBuf>,
    /// 0-based index of the record in the file.
    pub index: u64,
    /// Byte offset of the record in the (decompressed) stream.
    pub offset: u64,
    /// The block number, when the record's header decoded.
    pub number: Option<u64>,
}

impl RecordLocation {
    /// `"path: "`, or nothing for a reader without a path.
    fn path_prefix(&self) -> String {
        path_prefix(self.path.as_deref())
    }

    /// The record without the path: `block record 57 (block 1,234) at offset 98,765`.
    fn record(&self) -> String {
        let number = self.number.map(|n| format!(" (block {})", Thousands(n))).unwrap_or_default();
        format!(
            "block record {}{number} at offset {}",
            Thousands(self.index),
            Thousands(self.offset)
        )
    }
}

impl fmt::Display for RecordLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.path_prefix(), self.record())
    }
}

/// `"path: "`, or nothing without a path.
fn path_prefix(path: Option<&Path>) -> String {
    path.map(|path| format!("{}: ", path.display())).unwrap_or_default()
}

/// A number with thousands separators: `98,765`.
struct Thousands(u64);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(digit);
        }
        f.write_str(&out)
    }
}

/// What can go wrong reading or writing a block file. Every reading error names the record it is in.
#[derive(Debug, thiserror::Error)]
pub enum BlockFileError {
    /// The file could not be opened.
    #[error("cannot open block file {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file could not be created.
    #[error("cannot create block file {}: {source}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Reading the (plain) stream failed.
    #[error("{location}: read error: {source}")]
    Read {
        /// The record being read.
        location: RecordLocation,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The gzip stream is corrupt or truncated.
    #[error("{location}: corrupt gzip stream: {source}")]
    CorruptGzip {
        /// The record being read when decompression failed.
        location: RecordLocation,
        /// What the decompressor said.
        #[source]
        source: io::Error,
    },
    /// The file ends inside a record.
    #[error(
        "{}file ends {} bytes into {}: expected {} bytes",
        location.path_prefix(),
        Thousands(*read),
        location.record(),
        Thousands(*expected)
    )]
    Truncated {
        /// The record cut short.
        location: RecordLocation,
        /// How many bytes of it the file holds.
        read: u64,
        /// How many bytes it needs: the whole record, or its length prefix when even that is cut short.
        expected: u64,
    },
    /// A record's length prefix claims more than [`MAX_RECORD_SIZE`].
    #[error(
        "{location}: the record claims {} bytes, more than the {} byte limit (a corrupt length prefix?)",
        Thousands(*size),
        Thousands(MAX_RECORD_SIZE)
    )]
    TooLarge {
        /// The record.
        location: RecordLocation,
        /// The size its length prefix claims, prefix included.
        size: u64,
    },
    /// A record is not a valid block record.
    #[error("{location}: {source}")]
    Record {
        /// The record.
        location: RecordLocation,
        /// What is wrong with it.
        #[source]
        source: RecordError,
    },
    /// A block access list handed to the writer is not the RLP of one block access list.
    #[error(
        "{}block record {} (block {}): invalid block access list: {source}",
        path_prefix(path.as_deref()),
        Thousands(*index),
        Thousands(*number)
    )]
    InvalidBlockAccessList {
        /// The file being written, if any.
        path: Option<PathBuf>,
        /// The index the record would have had.
        index: u64,
        /// The block's number.
        number: u64,
        /// What is wrong with the list.
        #[source]
        source: RecordError,
    },
    /// Writing failed.
    #[error("{}cannot write block record {}: {source}", path_prefix(path.as_deref()), Thousands(*index))]
    Write {
        /// The file being written, if any.
        path: Option<PathBuf>,
        /// The record being written (the record count when finishing the file).
        index: u64,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl BlockFileError {
    /// The record an error is in, for errors that come from reading a record.
    pub const fn location(&self) -> Option<&RecordLocation> {
        match self {
            Self::Read { location, .. }
            | Self::CorruptGzip { location, .. }
            | Self::Truncated { location, .. }
            | Self::TooLarge { location, .. }
            | Self::Record { location, .. } => Some(location),
            Self::Open { .. }
            | Self::Create { .. }
            | Self::InvalidBlockAccessList { .. }
            | Self::Write { .. } => None,
        }
    }
}

/// Reads the block records of a block file, one at a time.
///
/// The reader is an iterator of `Result<BlockRecord, BlockFileError>`: it ends (`None`) at the clean end of the
/// file, and after the first error, so a damaged file never reads as a shorter chain without saying so.
pub struct BlockFileReader {
    /// The decompressed stream.
    inner: Box<dyn BufRead + Send>,
    /// The file, for error messages.
    path: Option<PathBuf>,
    /// Whether the stream is gzip-compressed.
    gzip: bool,
    /// Offset of the next record in the decompressed stream.
    offset: u64,
    /// Index of the next record.
    index: u64,
    /// Set at the end of the file and after an error.
    done: bool,
}

impl fmt::Debug for BlockFileReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockFileReader")
            .field("path", &self.path)
            .field("gzip", &self.gzip)
            .field("offset", &self.offset)
            .field("index", &self.index)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl BlockFileReader {
    /// Opens the block file at `path`, gzip-compressed or not (told by its first bytes, not its name).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BlockFileError> {
        let path = path.as_ref();
        let file = File::open(path)
            .map_err(|source| BlockFileError::Open { path: path.to_owned(), source })?;
        let reader = Self::with_path(file, Some(path.to_owned()))?;
        debug!(target: "import::file", path = %path.display(), gzip = reader.gzip, "Opened block file");
        Ok(reader)
    }

    /// Reads block records from `reader`, gzip-compressed or not (told by its first bytes).
    pub fn new<R: Read + Send + 'static>(reader: R) -> Result<Self, BlockFileError> {
        Self::with_path(reader, None)
    }

    /// Reads block records from `reader`; `path` names it in errors.
    fn with_path<R: Read + Send + 'static>(
        mut reader: R,
        path: Option<PathBuf>,
    ) -> Result<Self, BlockFileError> {
        let mut magic = [0u8; 2];
        let mut sniffed = 0;
        while sniffed < magic.len() {
            match reader.read(&mut magic[sniffed..]) {
                Ok(0) => break,
                Ok(n) => sniffed += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    let location = RecordLocation { path, index: 0, offset: 0, number: None };
                    return Err(BlockFileError::Read { location, source });
                }
            }
        }
        let gzip = magic[..sniffed] == GZIP_MAGIC;
        let stream = Cursor::new(magic[..sniffed].to_vec()).chain(reader);
        let inner: Box<dyn BufRead + Send> = if gzip {
            Box::new(BufReader::with_capacity(READ_BUFFER, MultiGzDecoder::new(stream)))
        } else {
            Box::new(BufReader::with_capacity(READ_BUFFER, stream))
        };
        Ok(Self { inner, path, gzip, offset: 0, index: 0, done: false })
    }

    /// The file the reader was opened from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the file is gzip-compressed.
    pub const fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// How many records have been read.
    pub const fn records_read(&self) -> u64 {
        self.index
    }

    /// How many bytes of the (decompressed) stream the records read so far take.
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// The location of the record being read.
    fn location(&self, number: Option<u64>) -> RecordLocation {
        RecordLocation { path: self.path.clone(), index: self.index, offset: self.offset, number }
    }

    /// The error for a failed read of the stream.
    fn read_error(&self, source: io::Error) -> BlockFileError {
        let location = self.location(None);
        if self.gzip {
            BlockFileError::CorruptGzip { location, source }
        } else {
            BlockFileError::Read { location, source }
        }
    }

    /// Appends up to `count` bytes of the stream to `buf`, fewer only at the end of the stream.
    fn read_up_to(&mut self, buf: &mut Vec<u8>, count: u64) -> Result<u64, BlockFileError> {
        let read = self.inner.by_ref().take(count).read_to_end(buf);
        read.map(|n| n as u64).map_err(|source| self.read_error(source))
    }

    /// Reads the next record: `None` at the clean end of the stream.
    fn read_record(&mut self) -> Result<Option<BlockRecord>, BlockFileError> {
        let mut buf = Vec::with_capacity(9);
        if self.read_up_to(&mut buf, 1)? == 0 {
            return Ok(None);
        }
        let first = buf[0];
        let prefix_length: u64 = match first {
            0xc0..=0xf7 => 1,
            0xf8..=0xff => 1 + u64::from(first - 0xf7),
            _ => {
                let location = self.location(None);
                return Err(BlockFileError::Record {
                    location,
                    source: RecordError::NotAList { first },
                });
            }
        };
        if prefix_length > 1 && self.read_up_to(&mut buf, prefix_length - 1)? < prefix_length - 1 {
            let location = self.location(None);
            return Err(BlockFileError::Truncated {
                location,
                read: buf.len() as u64,
                expected: prefix_length,
            });
        }
        let payload_length = match payload_length(&buf) {
            Ok(length) => length,
            Err(source) => {
                let source = RecordError::Malformed { element: RecordElement::Record, source };
                return Err(BlockFileError::Record { location: self.location(None), source });
            }
        };
        let size = prefix_length.saturating_add(payload_length);
        if size > MAX_RECORD_SIZE {
            return Err(BlockFileError::TooLarge { location: self.location(None), size });
        }
        // Grows with what the stream holds, so a truncated file does not allocate the claimed size up front.
        buf.reserve(payload_length.min(16 * 1024 * 1024) as usize);
        if self.read_up_to(&mut buf, payload_length)? < payload_length {
            let location = self.location(None);
            return Err(BlockFileError::Truncated {
                location,
                read: buf.len() as u64,
                expected: size,
            });
        }
        let record =
            decode_record_at(&buf, self.offset, self.index).map_err(|(source, number)| {
                BlockFileError::Record { location: self.location(number), source }
            })?;
        self.offset += size;
        self.index += 1;
        Ok(Some(record))
    }
}

impl Iterator for BlockFileReader {
    type Item = Result<BlockRecord, BlockFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.read_record().transpose();
        if !matches!(result, Some(Ok(_))) {
            self.done = true;
        }
        result
    }
}

/// The payload length of a list prefix held whole in `prefix` (its first byte is `0xc0..=0xff`).
fn payload_length(prefix: &[u8]) -> Result<u64, rlp::Error> {
    let first = prefix[0];
    if first <= 0xf7 {
        return Ok(u64::from(first - 0xc0));
    }
    let length = &prefix[1..];
    if length[0] == 0 {
        return Err(rlp::Error::LeadingZero);
    }
    let length = length.iter().fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
    if length < 56 {
        return Err(rlp::Error::NonCanonicalSize);
    }
    Ok(length)
}

/// Splits the next RLP item (prefix and payload) off `buf`.
fn split_item<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], rlp::Error> {
    let start = *buf;
    let header = rlp::Header::decode(buf)?;
    let prefix_length = start.len() - buf.len();
    // `Header::decode` checked that the payload is there.
    let (item, rest) = start.split_at(prefix_length + header.payload_length);
    *buf = rest;
    Ok(item)
}

/// Decodes an element that must take the whole of `item`.
fn decode_element<T: Decodable>(item: &[u8], element: RecordElement) -> Result<T, RecordError> {
    let mut buf = item;
    let value = T::decode(&mut buf).map_err(|source| RecordError::Malformed { element, source })?;
    if !buf.is_empty() {
        return Err(RecordError::TrailingBytes { element, count: buf.len() });
    }
    Ok(value)
}

/// Decodes the record in `rlp`; on error, also says the block number if the header decoded.
fn decode_record_at(
    rlp: &[u8],
    offset: u64,
    index: u64,
) -> Result<BlockRecord, (RecordError, Option<u64>)> {
    let Some(&first) = rlp.first() else { return Err((RecordError::Empty, None)) };
    let mut rest = rlp;
    let outer = rlp::Header::decode(&mut rest).map_err(|source| {
        (RecordError::Malformed { element: RecordElement::Record, source }, None)
    })?;
    if !outer.list {
        return Err((RecordError::NotAList { first }, None));
    }
    let (mut payload, trailing) = rest.split_at(outer.payload_length);
    if !trailing.is_empty() {
        let error =
            RecordError::TrailingBytes { element: RecordElement::Record, count: trailing.len() };
        return Err((error, None));
    }

    let mut items = Vec::with_capacity(5);
    while !payload.is_empty() {
        let element = RecordElement::at(items.len());
        let item = split_item(&mut payload)
            .map_err(|source| (RecordError::Malformed { element, source }, None))?;
        items.push(item);
    }
    if !(3..=5).contains(&items.len()) {
        return Err((RecordError::ElementCount { count: items.len() }, None));
    }

    let header: Header = decode_element(items[0], RecordElement::Header).map_err(|e| (e, None))?;
    let number = Some(header.number);
    let transactions = decode_transactions(items[1]).map_err(|e| (e, number))?;
    let ommers: Vec<Header> =
        decode_element(items[2], RecordElement::Ommers).map_err(|e| (e, number))?;
    let mut withdrawals: Option<Withdrawals> = items
        .get(3)
        .map(|item| decode_element(item, RecordElement::Withdrawals))
        .transpose()
        .map_err(|e| (e, number))?;
    // A record with a block access list has a withdrawals element even before Shanghai (see `encode_record`):
    // an empty one stands for none when the header has no withdrawals root.
    if items.len() == 5
        && header.withdrawals_root.is_none()
        && withdrawals.as_ref().is_some_and(|w| w.is_empty())
    {
        withdrawals = None;
    }
    let (block_access_list, decoded_block_access_list) = match items.get(4) {
        Some(item) => {
            let decoded = decode_block_access_list(item).map_err(|e| (e, number))?;
            (Some(Bytes::copy_from_slice(item)), Some(decoded))
        }
        None => (None, None),
    };

    Ok(BlockRecord {
        block: Block { header, body: BlockBody { transactions, ommers, withdrawals } },
        block_access_list,
        decoded_block_access_list,
        offset,
        index,
        size: rlp.len(),
    })
}

/// Decodes the transaction list of a block body, which must take the whole of `item`.
///
/// A legacy transaction is an RLP list; a typed one an RLP string holding its EIP-2718 bytes, which must be
/// exactly one transaction. This is checked here rather than left to alloy's `network_decode`, which (in
/// alloy-eips 2.5) does not compare the string's length with the transaction it decodes, so a damaged length
/// prefix would go unnoticed. A blob transaction must come without its sidecar, as execution-spec-tests'
/// `TYPE_3_TX_WITH_FULL_BLOBS` blocks check.
fn decode_transactions(item: &[u8]) -> Result<Vec<TxEnvelope>, RecordError> {
    let element = RecordElement::Transactions;
    let mut list = item;
    let mut payload = rlp::Header::decode_bytes(&mut list, true)
        .map_err(|source| RecordError::Malformed { element, source })?;
    let mut transactions = Vec::new();
    while !payload.is_empty() {
        let index = transactions.len();
        let malformed = |source| RecordError::Transaction { index, source };
        let mut tx = split_item(&mut payload).map_err(malformed)?;
        let decoded = if tx[0] >= rlp::EMPTY_LIST_CODE {
            TxEnvelope::fallback_decode(&mut tx).and_then(|decoded| {
                if tx.is_empty() { Ok(decoded) } else { Err(rlp::Error::UnexpectedLength.into()) }
            })
        } else {
            let bytes = rlp::Header::decode_bytes(&mut tx, false).map_err(malformed)?;
            match bytes.first() {
                Some(&first) if first >= rlp::EMPTY_LIST_CODE => {
                    return Err(malformed(rlp::Error::Custom(
                        "a legacy transaction wrapped in an RLP string",
                    )));
                }
                _ => TxEnvelope::decode_2718_exact(bytes),
            }
        };
        let decoded = decoded.map_err(|error| match error {
            Eip2718Error::UnexpectedType(ty) => RecordError::TransactionType { index, ty },
            Eip2718Error::RlpError(source) => malformed(source),
            _ => malformed(rlp::Error::Custom("undecodable EIP-2718 transaction")),
        })?;
        if let TxEnvelope::Eip4844(signed) = &decoded
            && matches!(signed.tx(), TxEip4844Variant::TxEip4844WithSidecar(_))
        {
            return Err(RecordError::BlobSidecarInBlock { index });
        }
        transactions.push(decoded);
    }
    Ok(transactions)
}

/// Decodes the RLP of one block access list that must take the whole of `item`.
fn decode_block_access_list(item: &[u8]) -> Result<BlockAccessList, RecordError> {
    let element = RecordElement::BlockAccessList;
    let mut probe = item;
    let header = rlp::Header::decode(&mut probe)
        .map_err(|source| RecordError::Malformed { element, source })?;
    if !header.list {
        return Err(RecordError::BlockAccessListNotAList);
    }
    decode_element(item, element)
}

/// Where the writer's bytes go.
enum Sink<W: Write> {
    /// Plain RLP.
    Plain(BufWriter<W>),
    /// Gzip-compressed RLP.
    Gzip(GzEncoder<BufWriter<W>>),
}

/// Writes block records to a block file, plain or gzip-compressed.
///
/// Call [`finish`](Self::finish) at the end: it flushes the buffers and completes the gzip stream, and reports the
/// errors that dropping the writer would swallow.
pub struct BlockFileWriter<W: Write> {
    /// Where the records go.
    sink: Sink<W>,
    /// The file, for error messages.
    path: Option<PathBuf>,
    /// The number of records written.
    index: u64,
    /// Reused encoding buffer.
    buf: Vec<u8>,
}

impl<W: Write> fmt::Debug for BlockFileWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockFileWriter")
            .field("path", &self.path)
            .field("gzip", &matches!(self.sink, Sink::Gzip(_)))
            .field("records", &self.index)
            .finish_non_exhaustive()
    }
}

impl BlockFileWriter<File> {
    /// Creates (or truncates) the block file at `path`, gzip-compressed when its name ends in `.gz`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, BlockFileError> {
        let path = path.as_ref();
        let file = File::create(path)
            .map_err(|source| BlockFileError::Create { path: path.to_owned(), source })?;
        let gzip = path.extension().is_some_and(|ext| ext == "gz");
        let mut writer = if gzip { Self::gzip(file) } else { Self::plain(file) };
        writer.path = Some(path.to_owned());
        Ok(writer)
    }
}

impl<W: Write> BlockFileWriter<W> {
    /// Writes plain RLP records to `writer`.
    pub fn plain(writer: W) -> Self {
        Self::with_sink(Sink::Plain(BufWriter::with_capacity(WRITE_BUFFER, writer)))
    }

    /// Writes gzip-compressed RLP records to `writer`.
    pub fn gzip(writer: W) -> Self {
        let buffered = BufWriter::with_capacity(WRITE_BUFFER, writer);
        Self::with_sink(Sink::Gzip(GzEncoder::new(buffered, Compression::default())))
    }

    /// A writer over `sink`.
    const fn with_sink(sink: Sink<W>) -> Self {
        Self { sink, path: None, index: 0, buf: Vec::new() }
    }

    /// How many records have been written.
    pub const fn records_written(&self) -> u64 {
        self.index
    }

    /// Appends the record of `block`, with its block access list (the RLP of the list) if given.
    ///
    /// The block access list must decode as one EIP-7928 block access list. With one, the record has 5 elements
    /// and its withdrawals element is written even when the block has none, as geth does (see
    /// [`encode_record`]).
    pub fn write(
        &mut self,
        block: &Block,
        block_access_list: Option<&Bytes>,
    ) -> Result<(), BlockFileError> {
        if let Some(bal) = block_access_list {
            decode_block_access_list(bal).map_err(|source| {
                BlockFileError::InvalidBlockAccessList {
                    path: self.path.clone(),
                    index: self.index,
                    number: block.header.number,
                    source,
                }
            })?;
        }
        self.buf.clear();
        encode_record(block, block_access_list.map(|bal| &bal[..]), &mut self.buf);
        let written = match &mut self.sink {
            Sink::Plain(out) => out.write_all(&self.buf),
            Sink::Gzip(out) => out.write_all(&self.buf),
        };
        written.map_err(|source| BlockFileError::Write {
            path: self.path.clone(),
            index: self.index,
            source,
        })?;
        self.index += 1;
        Ok(())
    }

    /// Flushes everything, completes the gzip stream, and gives back the underlying writer.
    pub fn finish(self) -> Result<W, BlockFileError> {
        let Self { sink, path, index, .. } = self;
        let buffered = match sink {
            Sink::Plain(out) => Ok(out),
            Sink::Gzip(out) => out.finish(),
        };
        buffered
            .and_then(|out| out.into_inner().map_err(io::IntoInnerError::into_error))
            .map_err(|source| BlockFileError::Write { path, index, source })
    }
}

#[cfg(test)]
mod tests {
    use balnode_primitives::{
        Address, B256, U256, Withdrawal,
        consensus::{Signed, TxEip1559, TxEip4844, TxEip4844WithSidecar},
        eips::eip7928::{AccountChanges, BalanceChange, BlockAccessIndex},
        eips::{eip2718::Encodable2718, eip7594::BlobTransactionSidecarVariant},
        primitives::Signature,
        rlp::encode,
    };

    use super::*;

    fn block(number: u64, withdrawals: Option<Vec<Withdrawal>>) -> Block {
        Block {
            header: Header {
                number,
                gas_limit: 30_000_000,
                extra_data: Bytes::from(vec![number as u8; 3]),
                base_fee_per_gas: Some(7),
                withdrawals_root: withdrawals.as_ref().map(|_| B256::repeat_byte(7)),
                ..Default::default()
            },
            body: BlockBody {
                transactions: vec![],
                ommers: vec![],
                withdrawals: withdrawals.map(Into::into),
            },
        }
    }

    fn bal() -> Bytes {
        let mut account = AccountChanges::new(Address::repeat_byte(0xaa));
        account.balance_changes.push(BalanceChange::new(BlockAccessIndex::new(1), U256::from(5)));
        account.storage_reads.push(U256::from(9));
        encode(vec![account]).into()
    }

    fn write_all(blocks: &[(Block, Option<Bytes>)], gzip: bool) -> Vec<u8> {
        let mut writer = if gzip {
            BlockFileWriter::gzip(Vec::new())
        } else {
            BlockFileWriter::plain(Vec::new())
        };
        for (block, bal) in blocks {
            writer.write(block, bal.as_ref()).unwrap();
        }
        assert_eq!(writer.records_written(), blocks.len() as u64);
        writer.finish().unwrap()
    }

    fn read_all(bytes: Vec<u8>) -> Vec<Result<BlockRecord, BlockFileError>> {
        BlockFileReader::new(Cursor::new(bytes)).unwrap().collect()
    }

    #[test]
    fn thousands_separators() {
        let check = |n: u64, expected: &str| assert_eq!(Thousands(n).to_string(), expected);
        check(0, "0");
        check(999, "999");
        check(1_000, "1,000");
        check(98_765, "98,765");
        check(1_234_567, "1,234,567");
        check(u64::MAX, "18,446,744,073,709,551,615");
    }

    #[test]
    fn round_trip_plain_and_gzip() {
        let blocks = vec![
            (block(1, None), None),
            (block(2, Some(vec![])), None),
            (
                block(3, Some(vec![Withdrawal { index: 1, amount: 2, ..Default::default() }])),
                Some(bal()),
            ),
            (block(4, Some(vec![])), Some(Bytes::from_static(&[EMPTY_LIST]))),
        ];
        for gzip in [false, true] {
            let bytes = write_all(&blocks, gzip);
            assert_eq!(bytes.starts_with(&GZIP_MAGIC), gzip);
            let records: Vec<_> = read_all(bytes).into_iter().map(Result::unwrap).collect();
            assert_eq!(records.len(), blocks.len());
            let mut offset = 0;
            for (i, (record, (block, bal))) in records.iter().zip(&blocks).enumerate() {
                assert_eq!(&record.block, block);
                assert_eq!(&record.block_access_list, bal);
                assert_eq!(record.decoded_block_access_list.is_some(), bal.is_some());
                assert_eq!(record.index, i as u64);
                assert_eq!(record.offset, offset);
                offset += record.size as u64;
            }
        }
    }

    #[test]
    fn a_bal_forces_the_withdrawals_element_as_geth_does() {
        let blocks = vec![(block(9, None), Some(bal()))];
        let bytes = write_all(&blocks, false);
        let record = read_all(bytes.clone()).pop().unwrap().unwrap();
        // Written as an empty list, read back as none: the header has no withdrawals root.
        assert_eq!(record.block.body.withdrawals, None);
        assert_eq!(record.block_access_list, Some(bal()));
        assert_eq!(record.encode(), bytes);
        assert_eq!(
            record.decoded_block_access_list.unwrap()[0].address,
            Address::repeat_byte(0xaa)
        );
    }

    #[test]
    fn writer_rejects_a_bal_that_is_not_one_list() {
        let mut writer = BlockFileWriter::plain(Vec::new());
        for bad in [&[0x80][..], &[0xc0, 0xc0][..], &[0xc1][..], &[0xc1, 0x01][..]] {
            let error =
                writer.write(&block(5, None), Some(&Bytes::copy_from_slice(bad))).unwrap_err();
            assert!(
                matches!(error, BlockFileError::InvalidBlockAccessList { number: 5, index: 0, .. }),
                "{error}"
            );
        }
        assert_eq!(writer.records_written(), 0);
    }

    #[test]
    fn empty_input_is_an_empty_file() {
        assert!(read_all(Vec::new()).is_empty());
        let gz = BlockFileWriter::gzip(Vec::new()).finish().unwrap();
        assert!(read_all(gz).is_empty());
    }

    #[test]
    fn truncated_record_names_record_offset_and_sizes() {
        let blocks = vec![(block(1, None), None), (block(2, None), None)];
        let bytes = write_all(&blocks, false);
        let first = decode_record(&bytes).unwrap_err();
        assert_eq!(
            first,
            RecordError::TrailingBytes { element: RecordElement::Record, count: bytes.len() / 2 }
        );
        let cut = bytes.len() - 10;
        let results = read_all(bytes[..cut].to_vec());
        assert_eq!(results.len(), 2);
        let error = results[1].as_ref().unwrap_err();
        let size = bytes.len() as u64 / 2;
        match error {
            BlockFileError::Truncated { location, read, expected } => {
                assert_eq!((location.index, location.offset), (1, size));
                assert_eq!((*read, *expected), (size - 10, size));
            }
            other => panic!("unexpected {other}"),
        }
        assert_eq!(
            error.to_string(),
            format!(
                "file ends {} bytes into block record 1 at offset {size}: expected {size} bytes",
                size - 10
            )
        );
    }

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.rlp");
        let mut bytes = write_all(&[(block(1, None), None)], false);
        bytes.push(0x01);
        std::fs::write(&path, &bytes).unwrap();
        let results: Vec<_> = BlockFileReader::open(&path).unwrap().collect();
        let error = results[1].as_ref().unwrap_err();
        let expected = format!(
            "{}: block record 1 at offset {}: the record is not an RLP list (it starts with byte 0x01)",
            path.display(),
            bytes.len() - 1
        );
        assert_eq!(error.to_string(), expected);
    }

    #[test]
    fn wrong_element_count() {
        let check = |items: usize| {
            let mut payload = Vec::new();
            block(1, None).header.encode(&mut payload);
            payload.extend(std::iter::repeat_n(EMPTY_LIST, items - 1));
            let mut rlp = Vec::new();
            rlp::Header { list: true, payload_length: payload.len() }.encode(&mut rlp);
            rlp.extend(payload);
            decode_record(&rlp)
        };
        assert_eq!(check(2).unwrap_err(), RecordError::ElementCount { count: 2 });
        assert_eq!(check(6).unwrap_err(), RecordError::ElementCount { count: 6 });
        assert!(check(3).is_ok());
        assert!(check(4).is_ok());
        assert!(check(5).is_ok());
    }

    #[test]
    fn element_errors_name_the_block() {
        // A block whose transaction list is an RLP string.
        let mut payload = Vec::new();
        block(77, None).header.encode(&mut payload);
        payload.extend([0x80, EMPTY_LIST]);
        let mut rlp = Vec::new();
        rlp::Header { list: true, payload_length: payload.len() }.encode(&mut rlp);
        rlp.extend(payload);
        let results = read_all(rlp);
        let error = results[0].as_ref().unwrap_err();
        assert_eq!(error.location().unwrap().number, Some(77));
        assert_eq!(
            error.to_string(),
            "block record 0 (block 77) at offset 0: malformed RLP in the transaction list: unexpected string"
        );
    }

    #[test]
    fn a_typed_transaction_must_fill_its_string() {
        let tx = TxEip1559 { chain_id: 1, gas_limit: 21_000, ..Default::default() };
        let tx = TxEnvelope::Eip1559(Signed::new_unhashed(tx, Signature::test_signature()));
        let mut block = block(1, None);
        block.body.transactions.push(tx.clone());
        let mut rlp = Vec::new();
        encode_record(&block, None, &mut rlp);
        assert_eq!(decode_record(&rlp).unwrap().block.body.transactions.len(), 1);

        // The string holding the transaction is `0xb8 <length> <type> <list>`: make its length one short, then
        // one long. (alloy's `network_decode` alone accepts both.)
        let typed = tx.encoded_2718();
        let at = rlp.windows(typed.len()).position(|window| window == &typed[..]).unwrap();
        assert_eq!((rlp[at - 2], usize::from(rlp[at - 1])), (0xb8, typed.len()));
        for delta in [-1i16, 1] {
            let mut damaged = rlp.clone();
            damaged[at - 1] = (i16::from(damaged[at - 1]) + delta) as u8;
            let error = decode_record(&damaged).unwrap_err();
            assert!(matches!(error, RecordError::Transaction { index: 0, .. }), "{delta}: {error}");
        }
    }

    #[test]
    fn a_blob_sidecar_is_rejected() {
        let with_sidecar = TxEip4844WithSidecar::from_tx_and_sidecar(
            TxEip4844::default(),
            BlobTransactionSidecarVariant::Eip4844(Default::default()),
        );
        let signed = Signed::new_unhashed(
            TxEip4844Variant::TxEip4844WithSidecar(with_sidecar),
            Signature::test_signature(),
        );
        let mut block = block(1, Some(vec![]));
        block.body.transactions.push(TxEnvelope::Eip4844(signed));
        let mut rlp = Vec::new();
        encode_record(&block, None, &mut rlp);
        assert_eq!(decode_record(&rlp).unwrap_err(), RecordError::BlobSidecarInBlock { index: 0 });
    }

    #[test]
    fn a_bal_string_is_rejected() {
        let mut rlp = Vec::new();
        encode_record(&block(3, Some(vec![])), Some(&[0x80]), &mut rlp);
        assert_eq!(decode_record(&rlp).unwrap_err(), RecordError::BlockAccessListNotAList);
    }

    #[test]
    fn non_canonical_and_oversized_prefixes() {
        // A long-form prefix for a short payload, and one with a leading zero.
        for prefix in [&[0xf8, 0x05][..], &[0xf9, 0x00, 0x40][..]] {
            let mut bytes = prefix.to_vec();
            bytes.extend([0u8; 64]);
            let error = read_all(bytes).pop().unwrap().unwrap_err();
            assert!(
                matches!(
                    error,
                    BlockFileError::Record {
                        source: RecordError::Malformed { element: RecordElement::Record, .. },
                        ..
                    }
                ),
                "{error}"
            );
        }
        let error = read_all(vec![0xfb, 0x7f, 0xff, 0xff, 0xff]).pop().unwrap().unwrap_err();
        assert!(
            matches!(error, BlockFileError::TooLarge { size, .. } if size == 0x7fff_ffff + 5),
            "{error}"
        );
    }

    #[test]
    fn corrupt_gzip_is_reported() {
        let bytes = write_all(&[(block(1, None), None), (block(2, None), None)], true);
        // Damage the deflate data, then the CRC trailer.
        for position in [12, bytes.len() - 6] {
            let mut damaged = bytes.clone();
            damaged[position] ^= 0xff;
            let results = read_all(damaged);
            match results.last().unwrap() {
                Err(BlockFileError::CorruptGzip { .. } | BlockFileError::Record { .. }) => {}
                other => panic!("damage at {position}: {other:?}"),
            }
        }
        // A truncated gzip stream.
        let results = read_all(bytes[..bytes.len() - 4].to_vec());
        assert!(matches!(results.last(), Some(Err(BlockFileError::CorruptGzip { .. }))));
    }

    #[test]
    fn the_reader_stops_after_an_error() {
        let mut bytes = write_all(&[(block(1, None), None)], false);
        bytes.extend([0x00, 0xc0, 0xc0]);
        let mut reader = BlockFileReader::new(Cursor::new(bytes)).unwrap();
        assert!(reader.next().unwrap().is_ok());
        assert!(reader.next().unwrap().is_err());
        assert!(reader.next().is_none());
        assert_eq!(reader.records_read(), 1);
    }
}
