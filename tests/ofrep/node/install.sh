#!/usr/bin/env bash
# Installs the OpenFeature Node SDKs and OFREP providers from the npm registry into .cache/ofrep-node
# (git-ignored) for tests/ofrep/test_ofrep_node_sdk.py. Idempotent and fast when cached.
# Override the location with FLAGOPS_OFREP_NODE_DIR (the test reads the same variable).
set -euo pipefail
cd "$(dirname "$0")/../../.."

DIR="${FLAGOPS_OFREP_NODE_DIR:-.cache/ofrep-node}"
# pinned: the server-side provider evaluates one flag per call, the web provider polls bulk with If-None-Match
PACKAGES=(
  "@openfeature/server-sdk@1.23.0" "@openfeature/core@1.12.0" "@openfeature/ofrep-core@0.1.4"
  "@openfeature/ofrep-provider@0.1.3" "@openfeature/web-sdk@1.10.0" "@openfeature/ofrep-web-provider@0.4.3"
)
STAMP="$DIR/.installed-$(printf '%s\n' "${PACKAGES[@]}" | sha256sum | cut -c1-16)"
[ -f "$STAMP" ] && exit 0

command -v npm >/dev/null || { echo "tests/ofrep/node/install.sh: npm is not installed (apt-get install nodejs npm)" >&2; exit 1; }
echo "tests/ofrep/node/install.sh: installing the OpenFeature Node SDKs into $DIR (one time, cached)" >&2
mkdir -p "$DIR"
rm -f "$DIR"/.installed-*
[ -f "$DIR/package.json" ] || printf '{"name":"flagops-ofrep-node-cache","private":true}\n' > "$DIR/package.json"
npm install --prefix "$DIR" --no-audit --no-fund --omit=dev --loglevel=error "${PACKAGES[@]}" >&2
touch "$STAMP"
