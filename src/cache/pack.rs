//! How the provider-result cache keeps records: packed into compressed bytes, and
//! decoded again on every hit.
//!
//! # Why packed
//!
//! A record as the providers give it is mostly its own JSON (kept for `remoteData`):
//! a Gong call from `calls/extensive` is about 3.6 KB of JSON, which takes about 37 KB
//! of heap once parsed into a `serde_json::Value` (every key and string its own
//! allocation, every object a B-tree), and the typed record beside it takes another
//! 2–3 KB. Held as they are, 10,000 cached calls took about 350 MiB. The issue's
//! budget is 16 MiB per 10,000 calls, under even the typed records alone (about 9 KiB
//! a call without their JSON), so the cache holds bytes instead:
//!
//! - the typed part of a value is encoded with postcard (a compact serde format, no
//!   field names), with each [`Raw`] record replaced by its length;
//! - the raw part is the JSON text of those records, one after another;
//! - each part is compressed with zstd at level 1 (on a 100-call Gong page: 9.6 : 1,
//!   as good as zlib at level 6 and about four times as fast to decompress), into its
//!   own frame.
//!
//! An entry's weight is then its bytes (plus a measured per-entry overhead), so the
//! size bound is honest, and a Gong call costs about 0.65 KB in a page and about
//! 1.5 KB alone: 10,000 calls take 6.4 MiB as pages of 100, 14.3 MiB by id
//! (`tests/cache_memory.rs` holds both to the budget and the weigher to within 10%
//! of the heap measured).
//!
//! # What a hit costs
//!
//! A hit decompresses and decodes the typed part: for a page of 100 Gong calls about
//! 0.5 ms, 100 calls by id about 1 ms, against about 4 ms to decode and map the
//! provider's page again (`benches/hot_paths.rs`, on a loaded 2-core machine). The
//! raw part stays compressed: a record read from the cache holds its JSON as a
//! [`PackedRaw`], and only reading it (`remoteData`, a few provider quirks)
//! decompresses the raw part, once for all the records of that read, and parses that
//! one record (`remoteData` of all 100 calls of a page: about 3.8 ms, mostly the JSON
//! parse). So the CPU a hit costs goes to what the query selects. Keeping typed
//! records and compressing only their JSON would make hits cheaper still, but the
//! typed records alone are over the budget; keeping the provider's JSON compressed and
//! mapping it again on every hit would be smaller by a third, but makes every hit cost
//! a full decode (about 8 times more).
//!
//! # Dictionaries
//!
//! A record alone compresses poorly (a Gong call: 2.9 : 1; 10,000 calls by id took
//! 24.1 MiB compressed one by one, over the budget), because most of what
//! repeats does so across records: field names, enum values, the company's own names
//! and addresses. So values under [`SMALL`] (records cached by id) are compressed
//! against a dictionary: zstd's "raw content" kind, which is just bytes the encoder may
//! refer back to, here the encoded records (up to [`DICT_MAX`]) that the same
//! operation of the same connection packed first (a Gong call then compresses
//! 6 : 1). The dictionary is held by the entries compressed with it and by nothing
//! else (the cache keeps only a weak reference to find it again), so it lives no
//! longer than they do and is never shared between connections; a new one is made
//! when they are all gone. Its bytes count in the weight of the entry that made it
//! (so when that entry goes first, the others hold up to [`DICT_MAX`] unweighed per
//! operation of a connection). With it, 10,000 calls by id take 14.3 MiB.
//!
//! Each thread keeps one zstd compression and one decompression context, so packing
//! and unpacking allocate only their output.

use std::{
    borrow::Cow,
    cell::RefCell,
    fmt,
    sync::{Arc, OnceLock},
};

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::DeserializeOwned};
use serde_json::Value;
use zstd_safe::{CCtx, CompressionLevel, DCtx};

use crate::domain::Raw;

/// zstd level: the fastest, which on JSON compresses as well as levels 2 and 3.
const LEVEL: CompressionLevel = 1;
/// Below this many bytes a part is stored as it is (a frame would not be smaller).
const MIN_COMPRESS: usize = 64;
/// Values smaller than this, encoded, are compressed against a dictionary.
pub(crate) const SMALL: usize = 16 * 1024;
/// The largest dictionary made.
pub(crate) const DICT_MAX: usize = 32 * 1024;

/// A dictionary: encoded records that packed values may refer back to.
pub(crate) type Dict = Arc<[u8]>;

/// Packing or unpacking failed. Neither happens with the crate's own records (every
/// field has an exact encoding); it is reported, never a panic, and the cache then
/// treats the value as not cached.
#[derive(Debug)]
pub(crate) struct PackError(String);

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PackError {}

fn zstd_error(code: usize) -> PackError {
    PackError(format!("zstd: {}", zstd_safe::get_error_name(code)))
}

thread_local! {
    static CCTX: RefCell<CCtx<'static>> = RefCell::new(CCtx::create());
    static DCTX: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
    /// While a value is encoded: the raw part being written.
    static PACKING: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
    /// While a value is decoded: its raw part, and where the next record starts.
    static UNPACKING: RefCell<Option<(Option<Arc<RawSection>>, u32)>> = const { RefCell::new(None) };
}

/// One part of a packed value.
pub(crate) struct Frame {
    bytes: Box<[u8]>,
    /// The size once decompressed; `None` when `bytes` are stored as they are.
    plain_len: Option<u32>,
    dict: Option<Dict>,
}

impl Frame {
    fn new(plain: &[u8], dict: Option<&Dict>) -> Result<Self, PackError> {
        let plain_len = u32::try_from(plain.len()).map_err(|_| PackError("a value over 4 GiB".into()))?;
        if plain.len() >= MIN_COMPRESS {
            let mut out = Vec::with_capacity(zstd_safe::compress_bound(plain.len()));
            let written = CCTX.with_borrow_mut(|cctx| match dict {
                Some(d) => cctx.compress_using_dict(&mut out, plain, d, LEVEL),
                None => cctx.compress(&mut out, plain, LEVEL),
            });
            written.map_err(zstd_error)?;
            if out.len() < plain.len() {
                return Ok(Self { bytes: out.into_boxed_slice(), plain_len: Some(plain_len), dict: dict.cloned() });
            }
        }
        Ok(Self { bytes: plain.into(), plain_len: None, dict: None })
    }

    fn plain_len(&self) -> usize {
        self.plain_len.map_or(self.bytes.len(), |n| n as usize)
    }

    /// The bytes, decompressed.
    fn plain(&self) -> Result<Cow<'_, [u8]>, PackError> {
        let Some(len) = self.plain_len else { return Ok(Cow::Borrowed(&self.bytes)) };
        let mut out = Vec::with_capacity(len as usize);
        let read = DCTX.with_borrow_mut(|dctx| match &self.dict {
            Some(d) => dctx.decompress_using_dict(&mut out, &self.bytes, d),
            None => dctx.decompress(&mut out, &self.bytes),
        });
        read.map_err(zstd_error)?;
        if out.len() != len as usize {
            return Err(PackError(format!("{} bytes decompressed, {len} expected", out.len())));
        }
        Ok(Cow::Owned(out))
    }

    /// Heap bytes this frame holds (its dictionary is weighed apart).
    fn heap_bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// A value encoded, not yet compressed.
#[derive(Default)]
pub(crate) struct Encoded {
    typed: Vec<u8>,
    raw: Vec<u8>,
}

/// Clears the encoding or decoding state of the thread, however the work ends.
struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        PACKING.with_borrow_mut(|p| *p = None);
        UNPACKING.with_borrow_mut(|u| *u = None);
    }
}

/// Encodes `value`: its typed part and its raw part.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Encoded, PackError> {
    PACKING.with_borrow_mut(|p| *p = Some(Vec::new()));
    let _reset = Reset;
    let typed = postcard::to_allocvec(value).map_err(|e| PackError(format!("encode: {e}")))?;
    let raw = PACKING.with_borrow_mut(Option::take).unwrap_or_default();
    Ok(Encoded { typed, raw })
}

impl Encoded {
    /// Encoded bytes.
    pub(crate) fn len(&self) -> usize {
        self.typed.len() + self.raw.len()
    }

    /// Whether this value is compressed against a dictionary.
    pub(crate) fn is_small(&self) -> bool {
        self.len() < SMALL
    }

    /// Compresses the value (against `dict`, when given).
    pub(crate) fn compress(&self, dict: Option<&Dict>) -> Result<Packed, PackError> {
        let typed = Frame::new(&self.typed, dict)?;
        let raw = if self.raw.is_empty() { None } else { Some(Arc::new(Frame::new(&self.raw, dict)?)) };
        Ok(Packed { typed, raw })
    }
}

/// Largest value [`Encoded::from_wire`] accepts (a damaged length is an error, not
/// an allocation).
const WIRE_MAX: usize = 256 * 1024 * 1024;

/// The wire format's tags: what follows the tag is `[u32 LE plain length][u32 LE
/// typed length]` and then the typed and raw parts one after the other, as they are
/// or in one zstd frame.
const WIRE_PLAIN: u8 = 0;
const WIRE_ZSTD: u8 = 1;

impl Encoded {
    /// The value as another replica can read it (in Redis): self-contained, so
    /// compressed without a dictionary (this process's dictionaries are its own).
    pub(crate) fn to_wire(&self) -> Result<Vec<u8>, PackError> {
        let too_big = || PackError("a value over 4 GiB".into());
        let plain_len = u32::try_from(self.len()).map_err(|_| too_big())?;
        let typed_len = u32::try_from(self.typed.len()).map_err(|_| too_big())?;
        let mut plain = Vec::with_capacity(self.len());
        plain.extend_from_slice(&self.typed);
        plain.extend_from_slice(&self.raw);
        let mut out = Vec::with_capacity(9 + zstd_safe::compress_bound(plain.len()));
        out.push(WIRE_ZSTD);
        out.extend_from_slice(&plain_len.to_le_bytes());
        out.extend_from_slice(&typed_len.to_le_bytes());
        if plain.len() >= MIN_COMPRESS {
            let mut frame = Vec::with_capacity(zstd_safe::compress_bound(plain.len()));
            CCTX.with_borrow_mut(|cctx| cctx.compress(&mut frame, &plain, LEVEL)).map_err(zstd_error)?;
            if frame.len() < plain.len() {
                out.extend_from_slice(&frame);
                return Ok(out);
            }
        }
        out[0] = WIRE_PLAIN;
        out.extend_from_slice(&plain);
        Ok(out)
    }

    /// A value read back from [`Encoded::to_wire`]'s bytes.
    pub(crate) fn from_wire(bytes: &[u8]) -> Result<Self, PackError> {
        let bad = |what: &str| PackError(format!("a shared cache value {what}"));
        let (&tag, rest) = bytes.split_first().ok_or_else(|| bad("is empty"))?;
        let (head, body) = rest.split_at_checked(8).ok_or_else(|| bad("is cut short"))?;
        let plain_len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let typed_len = u32::from_le_bytes(head[4..].try_into().expect("4 bytes")) as usize;
        if plain_len > WIRE_MAX || typed_len > plain_len {
            return Err(bad("has impossible lengths"));
        }
        let plain = match tag {
            WIRE_PLAIN => Cow::Borrowed(body),
            WIRE_ZSTD => {
                let mut out = Vec::with_capacity(plain_len);
                DCTX.with_borrow_mut(|dctx| dctx.decompress(&mut out, body)).map_err(zstd_error)?;
                Cow::Owned(out)
            }
            _ => return Err(bad("is of an unknown format")),
        };
        if plain.len() != plain_len {
            return Err(bad("is not as long as it says"));
        }
        Ok(Self { typed: plain[..typed_len].to_vec(), raw: plain[typed_len..].to_vec() })
    }

    /// Decodes the value (its raw records held as they are, not compressed).
    pub(crate) fn unpack<T: DeserializeOwned>(&self) -> Result<T, PackError> {
        let frame = |b: &[u8]| Frame { bytes: b.into(), plain_len: None, dict: None };
        let raw = (!self.raw.is_empty()).then(|| Arc::new(frame(&self.raw)));
        Packed { typed: frame(&self.typed), raw }.unpack()
    }
}

/// A dictionary from encoded values: their bytes, up to [`DICT_MAX`].
pub(crate) fn dictionary<'a>(values: impl IntoIterator<Item = &'a Encoded>) -> Dict {
    let mut dict = Vec::new();
    for v in values {
        for part in [&v.typed, &v.raw] {
            let room = DICT_MAX - dict.len();
            dict.extend_from_slice(&part[..part.len().min(room)]);
        }
        if dict.len() >= DICT_MAX {
            break;
        }
    }
    dict.into()
}

/// A value as the cache holds it.
pub(crate) struct Packed {
    typed: Frame,
    raw: Option<Arc<Frame>>,
}

impl Packed {
    /// Decodes the value. Its raw records stay compressed until read.
    pub(crate) fn unpack<T: DeserializeOwned>(&self) -> Result<T, PackError> {
        let typed = self.typed.plain()?;
        let section =
            self.raw.as_ref().map(|frame| Arc::new(RawSection { frame: frame.clone(), text: OnceLock::new() }));
        UNPACKING.with_borrow_mut(|u| *u = Some((section, 0)));
        let _reset = Reset;
        postcard::from_bytes(&typed).map_err(|e| PackError(format!("decode: {e}")))
    }

    /// Heap bytes held: the frames and the structures around them (not the dictionary).
    pub(crate) fn heap_bytes(&self) -> usize {
        size_of::<Self>()
            + self.typed.heap_bytes()
            + self.raw.as_ref().map_or(0, |r| 2 * size_of::<usize>() + size_of::<Frame>() + r.heap_bytes())
    }
}

/// The raw part of one value read from the cache, shared by its records and
/// decompressed when the first of them is read.
pub(crate) struct RawSection {
    frame: Arc<Frame>,
    text: OnceLock<Box<[u8]>>,
}

impl RawSection {
    fn text(&self) -> &[u8] {
        if self.frame.plain_len.is_none() {
            return &self.frame.bytes;
        }
        self.text.get_or_init(|| match self.frame.plain() {
            Ok(text) => text.into_owned().into_boxed_slice(),
            Err(e) => {
                tracing::error!(error = %e, "a cached record's JSON could not be decompressed");
                Box::default()
            }
        })
    }
}

/// Where one record's JSON is in a [`RawSection`].
pub(crate) struct PackedRaw {
    section: Arc<RawSection>,
    start: u32,
    len: u32,
}

impl PackedRaw {
    /// Bytes of JSON text.
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    fn text(&self) -> &[u8] {
        let (start, end) = (self.start as usize, self.start as usize + self.len as usize);
        self.section.text().get(start..end).unwrap_or_default()
    }

    /// The record, parsed.
    pub(crate) fn parse(&self) -> Value {
        serde_json::from_slice(self.text()).unwrap_or_else(|e| {
            tracing::error!(error = %e, "a cached record's JSON could not be parsed");
            Value::Null
        })
    }

    /// Appends the record's JSON text.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.text());
    }
}

/// In a packed value, a raw record is its length in the raw part (records follow
/// each other in the order they are encoded and decoded).
impl Serialize for Raw {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = PACKING.with_borrow_mut(|p| {
            let raw = p.as_mut().ok_or("a raw record is serialized only when the cache packs it")?;
            let start = raw.len();
            self.write_json(raw).map_err(|_| "a raw record could not be written")?;
            u32::try_from(raw.len() - start).map_err(|_| "a raw record over 4 GiB")
        });
        s.serialize_u32(len.map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let len = u32::deserialize(d)?;
        let packed = UNPACKING.with_borrow_mut(|u| {
            let (section, next) = u.as_mut().ok_or("a raw record is deserialized only when the cache unpacks it")?;
            let section = section.clone().ok_or("a raw record without a raw part")?;
            let start = *next;
            let end = start.checked_add(len).filter(|e| *e as usize <= section.frame.plain_len());
            *next = end.ok_or("a raw record past the raw part")?;
            Ok::<_, &str>(PackedRaw { section, start, len })
        });
        Ok(Raw::packed(packed.map_err(serde::de::Error::custom)?))
    }
}

/// Serde `with` for a JSON value inside a packed record (postcard cannot hold a
/// self-describing value): its JSON text.
pub(crate) mod json_text {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(v: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(Value::to_string).serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| serde_json::from_str(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Serde `with` for times and dates in packed records: exact for every value chrono
/// can hold (its default text form is not, past year 9999) and faster to decode.
pub(crate) mod exact {
    use chrono::{DateTime, NaiveDate, Utc};

    use super::*;

    /// A time or date, or an optional one.
    pub(crate) trait Exact: Sized {
        type Repr: Serialize + DeserializeOwned;
        fn to_repr(&self) -> Self::Repr;
        fn from_repr(r: Self::Repr) -> Option<Self>;
    }

    impl Exact for DateTime<Utc> {
        type Repr = (i64, u32);
        fn to_repr(&self) -> (i64, u32) {
            (self.timestamp(), self.timestamp_subsec_nanos())
        }
        fn from_repr((secs, nanos): (i64, u32)) -> Option<Self> {
            DateTime::from_timestamp(secs, nanos)
        }
    }

    impl Exact for NaiveDate {
        type Repr = i32;
        fn to_repr(&self) -> i32 {
            chrono::Datelike::num_days_from_ce(self)
        }
        fn from_repr(days: i32) -> Option<Self> {
            NaiveDate::from_num_days_from_ce_opt(days)
        }
    }

    impl<T: Exact> Exact for Option<T> {
        type Repr = Option<T::Repr>;
        fn to_repr(&self) -> Self::Repr {
            self.as_ref().map(T::to_repr)
        }
        fn from_repr(r: Self::Repr) -> Option<Self> {
            match r {
                None => Some(None),
                Some(r) => T::from_repr(r).map(Some),
            }
        }
    }

    pub(crate) fn serialize<T: Exact, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        v.to_repr().serialize(s)
    }

    pub(crate) fn deserialize<'de, T: Exact, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        T::from_repr(T::Repr::deserialize(d)?).ok_or_else(|| serde::de::Error::custom("a time out of range"))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, NaiveDate, Utc};
    use serde_json::json;

    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Record {
        #[serde(with = "exact")]
        at: Option<DateTime<Utc>>,
        #[serde(with = "exact")]
        day: NaiveDate,
        #[serde(with = "json_text")]
        metadata: Option<Value>,
        raw: Raw,
        inner: Vec<Raw>,
    }

    fn record(i: i64) -> Record {
        Record {
            at: DateTime::from_timestamp(253_402_300_800 + i, 123_456_789),
            day: NaiveDate::from_ymd_opt(-4000, 2, 29).unwrap(),
            metadata: Some(json!({ "n": i, "f": 0.1 + i as f64, "s": "é\u{0}\"" })),
            raw: Raw::new(json!({ "id": i.to_string(), "big": u64::MAX, "neg": i64::MIN, "x": [1.5e300, null, true] })),
            inner: vec![Raw::new(json!("a")), Raw::default(), Raw::new(json!({ "k": [i] }))],
        }
    }

    fn shown(r: &[Record]) -> String {
        for x in r {
            for raw in std::iter::once(&x.raw).chain(&x.inner) {
                let _: &Value = raw;
            }
        }
        format!("{r:?}")
    }

    #[test]
    fn values_round_trip_exactly_with_and_without_a_dictionary() {
        let values: Vec<Record> = (0..50).map(record).collect();
        let encoded = encode(&values).unwrap();
        let dict = dictionary([&encoded]);
        for d in [None, Some(&dict)] {
            let packed = encoded.compress(d).unwrap();
            assert!(packed.heap_bytes() < encoded.len(), "compressed");
            let back: Vec<Record> = packed.unpack().unwrap();
            assert_eq!(shown(&back), shown(&values));
            // Packing what was read back (its JSON still packed) gives the same bytes.
            assert_eq!(encode(&back).unwrap().len(), encoded.len());
        }
    }

    #[test]
    fn the_wire_form_round_trips_and_refuses_damage() {
        for values in [(0..50).map(record).collect::<Vec<_>>(), vec![], vec![record(1)]] {
            let encoded = encode(&values).unwrap();
            let wire = encoded.to_wire().unwrap();
            let back = Encoded::from_wire(&wire).unwrap();
            assert_eq!(
                (back.typed.as_slice(), back.raw.as_slice()),
                (encoded.typed.as_slice(), encoded.raw.as_slice())
            );
            let read: Vec<Record> = back.unpack().unwrap();
            assert_eq!(shown(&read), shown(&values));
            // A dictionary of this process is not needed to read it.
            let dict = dictionary([&back]);
            let local: Vec<Record> = back.compress(Some(&dict)).unwrap().unpack().unwrap();
            assert_eq!(shown(&local), shown(&values));
        }
        let wire = encode(&(0..50).map(record).collect::<Vec<_>>()).unwrap().to_wire().unwrap();
        assert_eq!(wire[0], WIRE_ZSTD, "compressed");
        for damaged in [&wire[..5], &wire[..wire.len() - 3], &[9, 0, 0, 0, 0, 0, 0, 0, 0][..], &[][..]] {
            assert!(Encoded::from_wire(damaged).is_err());
        }
    }

    #[test]
    fn a_damaged_value_is_an_error_not_a_panic() {
        let encoded = encode(&vec![record(1), record(2)]).unwrap();
        let mut packed = encoded.compress(None).unwrap();
        let mut bytes = packed.typed.bytes.to_vec();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xFF;
        bytes.truncate(bytes.len() - 3);
        packed.typed.bytes = bytes.into();
        assert!(packed.unpack::<Vec<Record>>().is_err());
    }
}
