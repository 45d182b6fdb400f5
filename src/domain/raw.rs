//! [`Raw`]: the provider's own JSON record behind a domain record (`remoteData`).

use std::{
    fmt,
    ops::Deref,
    sync::{Arc, OnceLock},
};

use serde_json::Value;

use crate::cache::pack::PackedRaw;

/// The provider's own record, kept whole for `remoteData`.
///
/// A provider builds it from the JSON it decoded. A record read back from the
/// cache holds it still compressed ([`crate::cache::pack`]): it is decompressed and
/// parsed the first time it is read (dereferenced), which only `remoteData` and a
/// few provider quirks do, so a cache hit does not pay for JSON nobody selects.
/// Clones share the record and its parsed value.
#[derive(Clone)]
pub struct Raw(Arc<Inner>);

struct Inner {
    value: OnceLock<Value>,
    packed: Option<PackedRaw>,
}

impl Raw {
    /// A record already parsed.
    pub fn new(value: Value) -> Self {
        Self(Arc::new(Inner { value: OnceLock::from(value), packed: None }))
    }

    /// A record read back from the cache, parsed when first read.
    pub(crate) fn packed(packed: PackedRaw) -> Self {
        Self(Arc::new(Inner { value: OnceLock::new(), packed: Some(packed) }))
    }

    /// Appends the record as JSON text to `out`, without parsing it when it is
    /// still packed.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        match (self.0.value.get(), &self.0.packed) {
            (None, Some(p)) => {
                p.write_to(out);
                Ok(())
            }
            _ => serde_json::to_writer(out, &**self),
        }
    }
}

impl Deref for Raw {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.0.value.get_or_init(|| self.0.packed.as_ref().map_or(Value::Null, PackedRaw::parse))
    }
}

impl Default for Raw {
    fn default() -> Self {
        Self::new(Value::Null)
    }
}

impl From<Value> for Raw {
    fn from(value: Value) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Raw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.value.get(), &self.0.packed) {
            (None, Some(p)) => write!(f, "Raw(packed, {} bytes)", p.len()),
            _ => fmt::Debug::fmt(&**self, f),
        }
    }
}
