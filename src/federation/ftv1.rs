//! Federated tracing ("ftv1"): when a gateway sends `apollo-federation-include-trace:
//! ftv1`, the response carries `extensions.ftv1`, the base64 of Apollo's `Trace`
//! protobuf message (`reports.proto`) with one node per resolved field and its start
//! and end in nanoseconds since the operation began. Apollo Router and Gateway decode
//! it into their query-plan trace and Apollo Studio shows it as field timings.
//!
//! The HTTP layer marks such requests with [`TraceRequested`]; [`Ftv1Extension`] does
//! nothing for other requests. A field's end time is when its value, sub-selection
//! included, was complete (async-graphql resolves both in one future). Errors are
//! attached to the node at their path (to the root without a path) with their message
//! and their JSON form, unmasked: convograph's errors never carry secrets or upstream
//! bodies.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use async_graphql::{
    PathSegment, QueryPathSegment, Response, ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo},
};
use base64::Engine as _;
use prost::Message as _;

/// The request header a gateway sets to ask for a trace.
pub const INCLUDE_TRACE_HEADER: &str = "apollo-federation-include-trace";
/// The header value (and response extension key) of federated tracing v1.
pub const FTV1: &str = "ftv1";

/// Request data: the client asked for an inline `ftv1` trace.
#[derive(Debug, Clone, Copy)]
pub struct TraceRequested;

/// The `Trace` message of Apollo's `reports.proto`, with only the fields a subgraph
/// fills. Field numbers are the proto's; unknown fields are skipped by decoders.
pub mod proto {
    /// A trace of one operation.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Trace {
        /// Wall-clock end of the operation.
        #[prost(message, optional, tag = "3")]
        pub end_time: Option<Timestamp>,
        /// Wall-clock start of the operation.
        #[prost(message, optional, tag = "4")]
        pub start_time: Option<Timestamp>,
        /// `end_time - start_time` by a monotonic clock.
        #[prost(uint64, tag = "11")]
        pub duration_ns: u64,
        /// The response tree: one node per resolved field.
        #[prost(message, optional, tag = "14")]
        pub root: Option<Node>,
    }

    /// `google.protobuf.Timestamp`.
    #[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    /// A field (named by its response key) or a list item (by index).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Node {
        #[prost(oneof = "NodeId", tags = "1, 2")]
        pub id: Option<NodeId>,
        /// The return type, as in the schema (`[Call!]!`).
        #[prost(string, tag = "3")]
        pub r#type: String,
        /// Nanoseconds since the operation start.
        #[prost(uint64, tag = "8")]
        pub start_time: u64,
        /// Nanoseconds since the operation start.
        #[prost(uint64, tag = "9")]
        pub end_time: u64,
        #[prost(message, repeated, tag = "11")]
        pub error: Vec<Error>,
        #[prost(message, repeated, tag = "12")]
        pub child: Vec<Node>,
        /// The type that declares the field.
        #[prost(string, tag = "13")]
        pub parent_type: String,
        /// The field's name when the response key is an alias.
        #[prost(string, tag = "14")]
        pub original_field_name: String,
    }

    /// How a node is named in its parent.
    #[derive(Clone, PartialEq, Eq, prost::Oneof)]
    pub enum NodeId {
        #[prost(string, tag = "1")]
        ResponseName(String),
        #[prost(uint32, tag = "2")]
        Index(u32),
    }

    /// An error raised at a node.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Error {
        #[prost(string, tag = "1")]
        pub message: String,
        #[prost(message, repeated, tag = "2")]
        pub location: Vec<Location>,
        #[prost(uint64, tag = "3")]
        pub time_ns: u64,
        /// The error as it appears in the response, as JSON.
        #[prost(string, tag = "4")]
        pub json: String,
    }

    /// A position in the operation document.
    #[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
    pub struct Location {
        #[prost(uint32, tag = "1")]
        pub line: u32,
        #[prost(uint32, tag = "2")]
        pub column: u32,
    }
}

/// Installs federated tracing; inert for requests without [`TraceRequested`].
pub struct Ftv1Extension;

impl ExtensionFactory for Ftv1Extension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Ftv1Tracer::default())
    }
}

/// The tracer of one request.
#[derive(Default)]
struct Ftv1Tracer {
    /// Set when tracing is on for this request.
    start: OnceLock<(Instant, SystemTime)>,
    fields: Mutex<Vec<FieldTiming>>,
}

/// One resolved field.
struct FieldTiming {
    path: Vec<Segment>,
    parent_type: String,
    return_type: String,
    original_name: Option<String>,
    start_ns: u64,
    end_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Name(String),
    Index(usize),
}

impl Ftv1Tracer {
    fn elapsed_ns(&self) -> u64 {
        self.start.get().map_or(0, |(t0, _)| u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

#[async_trait::async_trait]
impl Extension for Ftv1Tracer {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if ctx.data_opt::<TraceRequested>().is_none() {
            return next.run(ctx, operation_name).await;
        }
        let (t0, wall0) = *self.start.get_or_init(|| (Instant::now(), SystemTime::now()));
        let mut response = next.run(ctx, operation_name).await;
        let duration = t0.elapsed();
        let fields = std::mem::take(&mut *self.fields.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let trace = proto::Trace {
            start_time: Some(timestamp(wall0)),
            end_time: Some(timestamp(wall0 + duration)),
            duration_ns: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            root: Some(tree(fields, &response)),
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(trace.encode_to_vec());
        response.extensions.insert(FTV1.to_owned(), Value::String(encoded));
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        // List items are timed by their fields; their nodes only carry the index.
        if self.start.get().is_none() || matches!(info.path_node.segment, QueryPathSegment::Index(_)) {
            return next.run(ctx, info).await;
        }
        let mut path: Vec<Segment> = std::iter::once(info.path_node)
            .chain(info.path_node.parents())
            .map(|n| match n.segment {
                QueryPathSegment::Name(name) => Segment::Name(name.to_owned()),
                QueryPathSegment::Index(i) => Segment::Index(i),
            })
            .collect();
        path.reverse();
        let parent_type = info.parent_type.to_owned();
        let return_type = info.return_type.to_owned();
        let original_name = info.alias.filter(|a| *a != info.name).map(|_| info.name.to_owned());
        let start_ns = self.elapsed_ns();
        let result = next.run(ctx, info).await;
        let end_ns = self.elapsed_ns();
        let timing = FieldTiming { path, parent_type, return_type, original_name, start_ns, end_ns };
        self.fields.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(timing);
        result
    }
}

fn timestamp(t: SystemTime) -> proto::Timestamp {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    proto::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

/// A node under construction, with its children by path segment.
#[derive(Default)]
struct TreeNode {
    node: proto::Node,
    by_segment: HashMap<Segment, usize>,
    children: Vec<TreeNode>,
}

impl TreeNode {
    fn at(&mut self, path: &[Segment]) -> &mut TreeNode {
        let mut here = self;
        for seg in path {
            let i = match here.by_segment.get(seg) {
                Some(&i) => i,
                None => {
                    let mut child = TreeNode::default();
                    child.node.id = Some(match seg {
                        Segment::Name(n) => proto::NodeId::ResponseName(n.clone()),
                        Segment::Index(i) => proto::NodeId::Index(u32::try_from(*i).unwrap_or(u32::MAX)),
                    });
                    here.children.push(child);
                    here.by_segment.insert(seg.clone(), here.children.len() - 1);
                    here.children.len() - 1
                }
            };
            here = &mut here.children[i];
        }
        here
    }

    fn finish(self) -> proto::Node {
        let mut node = self.node;
        node.child = self.children.into_iter().map(TreeNode::finish).collect();
        node
    }
}

/// The trace tree of the recorded fields, with the response's errors at their paths.
fn tree(fields: Vec<FieldTiming>, response: &Response) -> proto::Node {
    let mut root = TreeNode::default();
    for f in fields {
        let n = &mut root.at(&f.path).node;
        n.parent_type = f.parent_type;
        n.r#type = f.return_type;
        n.original_field_name = f.original_name.unwrap_or_default();
        n.start_time = f.start_ns;
        n.end_time = f.end_ns;
    }
    for e in &response.errors {
        let path: Vec<Segment> = e
            .path
            .iter()
            .map(|s| match s {
                PathSegment::Field(name) => Segment::Name(name.clone()),
                PathSegment::Index(i) => Segment::Index(*i),
            })
            .collect();
        root.at(&path).node.error.push(proto::Error {
            message: e.message.clone(),
            location: e
                .locations
                .iter()
                .map(|l| proto::Location { line: to_u32(l.line), column: to_u32(l.column) })
                .collect(),
            time_ns: 0,
            json: serde_json::to_string(e).unwrap_or_default(),
        });
    }
    root.finish()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(path: &[Segment], start_ns: u64, end_ns: u64) -> FieldTiming {
        FieldTiming {
            path: path.to_vec(),
            parent_type: "Query".into(),
            return_type: "String".into(),
            original_name: None,
            start_ns,
            end_ns,
        }
    }

    #[test]
    fn paths_become_a_tree_with_index_nodes_and_errors_at_their_paths() {
        let name = |s: &str| Segment::Name(s.into());
        let fields = vec![
            timing(&[name("calls")], 10, 90),
            timing(&[name("calls"), Segment::Index(1), name("title")], 40, 50),
            timing(&[name("calls"), Segment::Index(0), name("title")], 30, 35),
        ];
        let mut response = Response::new(Value::Null);
        let mut err = async_graphql::ServerError::new("boom", None);
        err.path = vec![PathSegment::Field("calls".into()), PathSegment::Index(1), PathSegment::Field("title".into())];
        response.errors.push(err);
        response.errors.push(async_graphql::ServerError::new("request-level", None));

        let root = tree(fields, &response);
        assert_eq!(root.error.len(), 1, "an error without a path sits at the root");
        let calls = &root.child[0];
        assert_eq!(calls.id, Some(proto::NodeId::ResponseName("calls".into())));
        assert_eq!((calls.start_time, calls.end_time), (10, 90));
        let item1 = calls.child.iter().find(|c| c.id == Some(proto::NodeId::Index(1))).unwrap();
        assert_eq!(item1.child[0].error[0].message, "boom");
        assert!(item1.child[0].error[0].json.contains("\"path\":[\"calls\",1,\"title\"]"));
        let item0 = calls.child.iter().find(|c| c.id == Some(proto::NodeId::Index(0))).unwrap();
        assert_eq!((item0.child[0].start_time, item0.child[0].end_time), (30, 35));
        assert!(item0.child[0].error.is_empty());
    }
}
