//! Global ids: `base64url("<Kind>:<connection>:<remote id>")`. Stable across
//! restarts (no key involved), they name the connection and the provider's own id.

use std::sync::Arc;

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{AppError, AppResult};

macro_rules! kinds {
    ($($name:ident),* $(,)?) => {
        /// The kinds of object with a global id (named as their GraphQL type).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $($name,)*
        }

        impl Kind {
            /// Every kind.
            pub const ALL: &'static [Kind] = &[$(Kind::$name,)*];

            /// The GraphQL type name (and the id's prefix).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }

            fn parse(s: &str) -> Option<Self> {
                match s {
                    $(stringify!($name) => Some(Self::$name),)*
                    _ => None,
                }
            }
        }
    };
}

kinds!(
    User,
    Call,
    Transcript,
    Activity,
    Interaction,
    Score,
    Scorecard,
    Coaching,
    Team,
    Department,
    Topic,
    CallTopicMatches,
    Listen,
    Feedback,
    Share,
    Kpi,
    CoachingPlan,
    CoachingMeeting,
);

/// A decoded global id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalId {
    pub kind: Kind,
    pub connection: Arc<str>,
    pub remote_id: String,
}

/// Encodes a global id.
pub fn encode(kind: Kind, connection: &str, remote_id: &str) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{connection}:{remote_id}", kind.as_str())))
}

/// Decodes any global id.
pub fn decode(id: &str) -> AppResult<GlobalId> {
    let bad = || AppError::bad_input(format!("'{id}' is not an id issued by this server"));
    let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, ':');
    let (Some(kind), Some(connection), Some(remote_id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let kind = Kind::parse(kind).ok_or_else(bad)?;
    if connection.is_empty() || remote_id.is_empty() {
        return Err(bad());
    }
    Ok(GlobalId { kind, connection: Arc::from(connection), remote_id: remote_id.to_owned() })
}

/// Decodes a global id that must be of `kind`.
pub fn decode_kind(id: &str, kind: Kind) -> AppResult<GlobalId> {
    let g = decode(id)?;
    if g.kind != kind {
        return Err(AppError::bad_input(format!("'{id}' is a {} id, not a {} id", g.kind.as_str(), kind.as_str())));
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_colons_in_remote_ids() {
        let id = encode(Kind::Call, "gong-demo", "77:82");
        let g = decode(&id).unwrap();
        assert_eq!((g.kind, &*g.connection, g.remote_id.as_str()), (Kind::Call, "gong-demo", "77:82"));
        assert_eq!(encode(Kind::Call, "gong-demo", "77:82"), id, "stable");
    }

    #[test]
    fn foreign_or_wrong_kind_ids_are_bad_input() {
        assert!(decode("not-an-id").is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("Nope:a:b")).is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("Call::b")).is_err());
        assert!(decode_kind(&encode(Kind::User, "c", "1"), Kind::Call).is_err());
    }
}
