//! Wire helpers shared by every provider's `model.rs`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::domain::Raw;

/// A record decoded twice: typed, and kept whole for `remoteData`.
#[derive(Debug, Clone)]
pub(crate) struct WithRaw<T> {
    pub(crate) data: T,
    pub(crate) raw: Raw,
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for WithRaw<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        let data = T::deserialize(&raw).map_err(serde::de::Error::custom)?;
        Ok(Self { data, raw: Raw::new(raw) })
    }
}
