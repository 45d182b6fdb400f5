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

# Live: run this one (the sandbox files a new call every 30 s).
subscription NewCalls {
  callAdded { remoteId title startedAt provider host { name } }
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
    const url = window.location.pathname;
    const http = GraphiQL.createFetcher({{ url }});
    // Subscriptions over GraphQL-over-SSE (no extra library): each `next` event of
    // the stream is one result GraphiQL shows as it arrives.
    async function* sse(params) {{
      const resp = await fetch(url, {{
        method: 'POST',
        headers: {{ 'content-type': 'application/json', accept: 'text/event-stream' }},
        body: JSON.stringify(params),
      }});
      if (!resp.ok || !resp.body) {{ yield await resp.json(); return; }}
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {{
        const {{ value, done }} = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {{
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = (block.match(/^event: ?(.*)$/m) || [])[1];
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.replace(/^data: ?/, '')).join('\n');
          if (event === 'complete') return;
          if (event === 'next' && data) yield JSON.parse(data);
        }}
      }}
    }}
    const isSubscription = (params) => {{
      const doc = params.query || '';
      const name = params.operationName;
      const re = name ? new RegExp('subscription\\s+' + name + '\\b') : /^\s*subscription\b/m;
      return re.test(doc) || (!name && /^\s*subscription\b/.test(doc.replace(/#.*$/gm, '')));
    }};
    const fetcher = (params, opts) => (isSubscription(params) ? sse(params) : http(params, opts));
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {{ fetcher, defaultQuery: {default_query}, defaultEditorToolsVisibility: true }})
    );
  </script>
</body>
</html>
"#
    )
}
