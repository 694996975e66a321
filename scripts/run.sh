#!/usr/bin/env bash
# The one run command: builds the server (release) and serves the API and the viewer on the
# embedded SQLite database (seeded with 500,000 rows on first start). The viewer is embedded
# in the binary from the committed server/viewer/, so no Wasm tool is installed or run here.
# Extra arguments go to `rowstream serve` (e.g. --addr 0.0.0.0:8080).
# First run on a fresh machine: ~5 minutes (fetching crates and one release build; cargo
# shows its progress); later runs start in seconds.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
echo "[run] building the server (release; ~5 minutes the first time)" >&2
cargo build --release --locked -p rowstream
exec "${CARGO_TARGET_DIR:-target}/release/rowstream" serve "$@"
