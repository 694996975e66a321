#!/usr/bin/env bash
# The one run command: installs what is missing, builds the viewer and the server, and
# serves both on the embedded SQLite database (seeded with 500,000 rows on first start).
# Extra arguments go to `rowstream serve` (e.g. --addr 0.0.0.0:8080).
# First run on a fresh machine: ~15-20 minutes, mostly installing trunk and wasm-bindgen.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
ROWSTREAM_SKIP_BROWSER=1 bash scripts/install-tools.sh
bash scripts/build-viewer.sh
echo "[run] building the server (release; ~5 minutes the first time)" >&2
cargo build --release --locked -p rowstream
exec ./target/release/rowstream serve "$@"
