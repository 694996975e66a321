#!/usr/bin/env bash
# The one test command (what CI runs): installs what is missing, makes sure PostgreSQL is
# up, checks formatting and lints, checks that the committed viewer (server/viewer/) matches
# a build from its sources, then runs every test: unit and integration tests against SQLite
# and a real PostgreSQL, the release binary serving its embedded viewer, and the browser
# tests in headless Chromium. Nothing is skipped: a missing PostgreSQL or browser fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
TOOLS_DIR="${ROWSTREAM_TOOLS_DIR:-$HOME/.cache/rowstream-tools}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$TOOLS_DIR/node_modules/.bin:$PATH"

bash scripts/install-tools.sh

# PostgreSQL: the tests need a real one. Start the local cluster if it is down.
pg_host=127.0.0.1
if ! pg_isready -q -h "$pg_host" -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "[test] PostgreSQL is down: starting the local cluster" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    sleep 2
  fi
fi
if ! pg_isready -q -h "$pg_host" -p 5432; then
  echo "[test] FAIL: PostgreSQL is not reachable at $pg_host:5432 (the tests need it; nothing is skipped)" >&2
  exit 1
fi

echo "[test] cargo fmt --check, cargo clippy -D warnings" >&2
cargo fmt --all --check
cargo clippy --locked -p shared -p rowstream -p frontend --all-targets -- -D warnings

bash scripts/build-viewer.sh --check
echo "[test] cargo build --release (the e2e tests also run the release binary)" >&2
cargo build --locked --release -p rowstream
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
echo "[test] cargo test: shared, server (SQLite, PostgreSQL, viewer in Chromium), viewer logic" >&2
cargo test --locked -p shared -p rowstream -p frontend
echo "[test] cargo test: viewer in the browser (wasm-bindgen-test in headless Chromium)" >&2
cargo test --locked -p frontend --target wasm32-unknown-unknown --test browser
