#!/usr/bin/env bash
# The one test command (what CI runs): installs what is missing, makes sure PostgreSQL is
# up, checks formatting and lints, checks that the committed viewer (server/viewer/) matches
# a build from its sources, then runs every test: unit and integration tests against SQLite
# and a real PostgreSQL, the release binary serving its embedded viewer, and the browser
# tests in headless Chromium. Nothing is skipped: a missing PostgreSQL or browser fails.
#
# Time on this 2-core machine is mostly compiling, so the steps share what they can:
# the tests run in the release profile (the release binary and its dependencies are built
# once, for both the binary the e2e tests start and the test binaries), the browser tests
# build with the light `wasm-test` profile, and Chromium comes from apt while cargo works.
# Each step prints the time since the start.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
TOOLS_DIR="${ROWSTREAM_TOOLS_DIR:-$HOME/.cache/rowstream-tools}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$TOOLS_DIR/node_modules/.bin:$PATH"

started=$SECONDS
step() { printf '\033[1m[test +%dm%02ds]\033[0m %s\n' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check

# Chromium and chromedriver from apt, beside the builds; waited for before the first test.
browser_log="$(mktemp)"
bash scripts/install-tools.sh --browser >"$browser_log" 2>&1 &
browser_pid=$!
trap 'kill "$browser_pid" 2>/dev/null || true; rm -f "$browser_log"' EXIT
ROWSTREAM_SKIP_BROWSER=1 bash scripts/install-tools.sh

# PostgreSQL: the tests need a real one. Start the local cluster if it is down.
pg_host=127.0.0.1
if ! pg_isready -q -h "$pg_host" -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    step "PostgreSQL is down: starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    sleep 2
  fi
fi
if ! pg_isready -q -h "$pg_host" -p 5432; then
  step "FAIL: PostgreSQL is not reachable at $pg_host:5432 (the tests need it; nothing is skipped)"
  exit 1
fi

step "cargo clippy -D warnings"
cargo clippy --locked -p shared -p rowstream -p frontend --all-targets -- -D warnings

step "the committed viewer matches its sources"
bash scripts/build-viewer.sh --check

# `cargo test` builds the `rowstream` binary too (the e2e tests run target/release/rowstream).
# No separate `cargo build --release`: with the dev-dependencies' features unified, it would
# build a second copy of the crates whose features differ.
step "cargo test --release --no-run: the binary and the tests, one build"
cargo test --locked --release -p shared -p rowstream -p frontend --no-run

step "waiting for Chromium"
if ! wait "$browser_pid"; then
  cat "$browser_log" >&2
  step "FAIL: could not install Chromium and chromedriver (the browser tests need them; nothing is skipped)"
  exit 1
fi
cat "$browser_log" >&2
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"

step "cargo test: shared, server (SQLite, PostgreSQL, viewer in Chromium), viewer logic"
cargo test --locked --release -p shared -p rowstream -p frontend -- --skip torture_load::

# The load torture tests measure latency (TTFB medians) and time bounds: alone, one at a
# time, after the rest, so that the parallel suite's load is not what they measure. The same
# packages as above: another selection would unify other features and rebuild everything.
step "cargo test: load torture (release binary; one test at a time)"
cargo test --locked --release -p shared -p rowstream -p frontend -- torture_load:: --test-threads=1

step "cargo test: viewer in the browser (wasm-bindgen-test in headless Chromium)"
cargo test --locked -p frontend --target wasm32-unknown-unknown --profile wasm-test --test browser

step "all tests passed"
