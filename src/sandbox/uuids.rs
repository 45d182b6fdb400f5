//! Reversible UUID-looking ids for simulators: a lowercase version-4-looking UUID
//! that encodes a provider salt, a kind tag and an index, so every id has an exact
//! inverse, ids of different kinds (or providers) never collide, and a random UUID
//! decodes to `None`.

use super::rng::mix;

const LOW_62: u64 = (1 << 62) - 1;

fn hi_part(salt: u64, kind: u64, index: u64) -> u64 {
    // Version nibble (hex digit 12 of the UUID) forced to 4.
    (mix((kind << 56) ^ index ^ salt) & !0xF000) | 0x4000
}

/// The id of `(kind, index)` under `salt` (kind < 2^14, index < 2^48).
pub(crate) fn encode(salt: u64, kind: u64, index: u64) -> String {
    let hi = hi_part(salt, kind, index);
    // Variant bits `10` on top of the low half; the rest is `(kind, index)` masked.
    let lo = (((kind << 48) | index) ^ mix(hi ^ salt)) & LOW_62 | (1 << 63);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// The index of an id of `kind` under `salt` (any case), or `None`.
pub(crate) fn decode(salt: u64, kind: u64, id: &str) -> Option<u64> {
    let groups: Vec<&str> = id.trim().split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lens != [8, 4, 4, 4, 12] || !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit())) {
        return None;
    }
    let hex: String = groups.concat();
    let hi = u64::from_str_radix(&hex[..16], 16).ok()?;
    let lo = u64::from_str_radix(&hex[16..], 16).ok()?;
    let plain = (lo ^ mix(hi ^ salt)) & LOW_62;
    if plain >> 48 != kind {
        return None;
    }
    let index = plain & ((1 << 48) - 1);
    (hi_part(salt, kind, index) == hi && lo >> 62 == 0b10).then_some(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_do_not_mix_kinds_or_salts() {
        for i in [0u64, 1, 39, 1999, 123_456] {
            let id = encode(11, 3, i);
            assert_eq!(decode(11, 3, &id), Some(i));
            assert_eq!(decode(11, 3, &id.to_uppercase()), Some(i));
            assert_eq!(decode(11, 4, &id), None);
            assert_eq!(decode(12, 3, &id), None);
            assert_eq!(id.len(), 36);
            assert_eq!(&id[14..15], "4");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        }
        assert_eq!(decode(11, 3, "aadb60cc-f532-479b-be74-9bd8b487edc0"), None);
        assert_eq!(decode(11, 3, "nope"), None);
    }
}
