#!/usr/bin/env bash
# Fetches GraphiQL and React from the npm registry into a folder for
# `server.graphiql.assets_dir`, for networks where browsers cannot reach a CDN.
# Usage: scripts/graphiql-assets.sh [DEST]   (default: ./graphiql-assets)
set -euo pipefail
dest="${1:-graphiql-assets}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"
(cd "$work" && npm pack --silent graphiql@3.9.0 react@18.3.1 react-dom@18.3.1 >/dev/null)
for t in "$work"/*.tgz; do tar -xzf "$t" -C "$work" && mv "$work/package" "$work/$(basename "$t" .tgz)"; done
cp "$work"/graphiql-3.9.0/graphiql.min.js "$work"/graphiql-3.9.0/graphiql.min.css "$dest"/
cp "$work"/react-18.3.1/umd/react.production.min.js "$dest"/
cp "$work"/react-dom-18.3.1/umd/react-dom.production.min.js "$dest"/
echo "GraphiQL assets in $dest"
