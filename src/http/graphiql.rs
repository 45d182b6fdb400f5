//! The GraphiQL page. Its scripts come from a CDN by default, or from a local folder
//! (`server.graphiql.assets_dir`, filled by `deploy/graphiql-assets.sh` from the npm
//! registry) for networks without internet.

use crate::config::GraphiqlSettings;

/// Where the local assets are served.
pub(super) const LOCAL_ASSETS_PATH: &str = "/graphiql/assets";

const CDN: [&str; 4] = [
    "https://unpkg.com/react@18.3.1/umd/react.production.min.js",
    "https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js",
    "https://unpkg.com/graphiql@3.9.0/graphiql.min.js",
    "https://unpkg.com/graphiql@3.9.0/graphiql.min.css",
];

/// The query GraphiQL opens with: works on the sandbox as it is.
const DEFAULT_QUERY: &str = r#"# Welcome to convograph. This runs against the sandbox as it is.
query FirstCalls {
  connections { id provider }
  calls(connectionId: "gong-demo", first: 5) {
    totalCount
    edges {
      cursor
      node {
        title
        startedAt
        duration
        host { name email }
        participants { name affiliation }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"#;

/// The HTML of the GraphiQL page.
pub(super) fn page(settings: &GraphiqlSettings) -> String {
    let [react, react_dom, js, css] = if settings.assets_dir.is_some() {
        [
            format!("{LOCAL_ASSETS_PATH}/react.production.min.js"),
            format!("{LOCAL_ASSETS_PATH}/react-dom.production.min.js"),
            format!("{LOCAL_ASSETS_PATH}/graphiql.min.js"),
            format!("{LOCAL_ASSETS_PATH}/graphiql.min.css"),
        ]
    } else {
        CDN.map(str::to_owned)
    };
    let default_query = serde_json::to_string(DEFAULT_QUERY).expect("a string serialises");
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>convograph · GraphiQL</title>
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
  <link rel="stylesheet" href="{css}" />
  <script crossorigin src="{react}"></script>
  <script crossorigin src="{react_dom}"></script>
  <script crossorigin src="{js}"></script>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script>
    const fetcher = GraphiQL.createFetcher({{ url: window.location.pathname }});
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {{ fetcher, defaultQuery: {default_query}, defaultEditorToolsVisibility: true }})
    );
  </script>
</body>
</html>
"#
    )
}
