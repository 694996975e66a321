#!/usr/bin/env bash
# Builds the Wasm viewer into dist/ with trunk, offline (see Trunk.toml), unless dist/ is
# newer than every viewer source. Prints what it does; the first build takes 2-4 minutes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
TOOLS_DIR="${ROWSTREAM_TOOLS_DIR:-$HOME/.cache/rowstream-tools}"
export PATH="$HOME/.cargo/bin:$TOOLS_DIR/node_modules/.bin:$PATH"
# trunk asks crates.io for a newer trunk on every run unless told not to.
export TRUNK_SKIP_VERSION_CHECK=true

stamp=dist/index.html
if [ -f "$stamp" ] && [ -z "$(find index.html Trunk.toml Cargo.toml Cargo.lock .cargo frontend shared -newer "$stamp" -type f -print -quit)" ]; then
  echo "[build-viewer] dist/ is up to date" >&2
  exit 0
fi
echo "[build-viewer] fetching crates (trunk builds offline)" >&2
cargo fetch --locked >/dev/null
echo "[build-viewer] trunk build --release (2-4 minutes the first time)" >&2
trunk build --release
echo "[build-viewer] built dist/ ($(du -sh dist | cut -f1))" >&2
