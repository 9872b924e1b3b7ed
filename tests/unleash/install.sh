#!/usr/bin/env bash
# Installs unleash-server from the npm registry into .cache/unleash (git-ignored) for the Unleash tests.
# Idempotent and fast when cached: does nothing if the pinned version is already installed.
# Override the location with FLAGOPS_UNLEASH_DIR (the test fixtures read the same variable).
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION="7.5.1"
DIR="${FLAGOPS_UNLEASH_DIR:-.cache/unleash}"
PKG_JSON="$DIR/node_modules/unleash-server/package.json"

installed_version() {
  [ -f "$PKG_JSON" ] && node -e 'process.stdout.write(require(process.argv[1]).version)' "$(realpath "$PKG_JSON")" 2>/dev/null || true
}

if [ "$(installed_version)" = "$VERSION" ] && [ -f "$DIR/.installed" ]; then
  exit 0
fi

command -v node >/dev/null || { echo "tests/unleash/install.sh: node is not installed (apt-get install nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "tests/unleash/install.sh: npm is not installed (apt-get install npm)" >&2; exit 1; }
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 20 ]; then
  echo "tests/unleash/install.sh: unleash-server@$VERSION needs Node.js 20 or newer; this is $(node --version)" >&2
  exit 1
fi

echo "tests/unleash/install.sh: installing unleash-server@$VERSION into $DIR (one time, cached)"
mkdir -p "$DIR"
rm -f "$DIR/.installed"
# A private package.json so npm installs here and nowhere else.
[ -f "$DIR/package.json" ] || printf '{"name":"flagops-unleash-cache","private":true}\n' > "$DIR/package.json"
npm install --prefix "$DIR" --no-audit --no-fund --omit=dev --loglevel=error "unleash-server@$VERSION" >&2

if [ "$(installed_version)" != "$VERSION" ]; then
  echo "tests/unleash/install.sh: unleash-server@$VERSION did not install (found '$(installed_version)')" >&2
  exit 1
fi
touch "$DIR/.installed"
