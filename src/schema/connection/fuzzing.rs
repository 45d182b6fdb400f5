//! The entry point of the `cursor` fuzz target (`fuzz/fuzz_targets/cursor.rs`, run by
//! `scripts/fuzz.sh`): reads an untrusted cursor as `after`/`before` are read. A child
//! module so it reaches the codec's private parts without widening them; not API.

use std::sync::{Arc, OnceLock};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{CursorCodec, ListId};
use crate::error::AppError;

/// Reads `data` twice: as a cursor string a client sent, and as the body of a cursor
/// sealed with the server's key (so the fuzzer gets past the MAC to the JSON inside).
/// Panics when an invariant breaks: reading fails with anything but `BAD_CURSOR`, or
/// a position read does not encode back to itself.
pub fn cursor(data: &[u8]) {
    static CODEC: OnceLock<(CursorCodec, ListId)> = OnceLock::new();
    let (codec, list) = CODEC.get_or_init(|| {
        let list = ListId::new(&Arc::from("gong-demo"), "calls", &serde_json::json!({ "a": 1 }));
        (CursorCodec::new(b"fuzzing key"), list)
    });
    if let Ok(text) = std::str::from_utf8(data) {
        read(codec, list, text);
    }
    let mut sealed = data.to_vec();
    sealed.extend_from_slice(&codec.mac(data));
    read(codec, list, &URL_SAFE_NO_PAD.encode(sealed));
}

fn read(codec: &CursorCodec, list: &ListId, cursor: &str) {
    match codec.decode(cursor, list) {
        Ok(pos) => {
            let again = codec.decode(&codec.encode(&pos), list);
            assert!(matches!(&again, Ok(p) if *p == pos), "{pos:?} does not survive a round trip: {again:?}");
        }
        Err(AppError::BadCursor(_)) => {}
        Err(other) => panic!("a cursor was refused with {other:?}, not BAD_CURSOR"),
    }
    // The sealed cursors of other lists (the timeline's, any payload).
    match codec.open::<serde_json::Value>(cursor, list) {
        Ok(_) | Err(AppError::BadCursor(_)) => {}
        Err(other) => panic!("a sealed cursor was refused with {other:?}, not BAD_CURSOR"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_entry_takes_anything() {
        for data in [&b""[..], b"!!", b"{}", b"{\"c\":\"gong-demo\",\"l\":\"x\",\"p\":0,\"i\":0}", &[0xff; 40]] {
            cursor(data);
        }
    }
}
