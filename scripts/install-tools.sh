#!/usr/bin/env bash
# Installs what building the viewer and running the tests need that a fresh machine lacks:
# the wasm32 target, wasm-bindgen-cli (exactly the version in Cargo.lock; it also brings
# wasm-bindgen-test-runner), wasm-opt (binaryen from npm), Chromium and chromedriver.
# Serving needs none of them: the server embeds the committed viewer (server/viewer/).
# Idempotent: each step checks first and costs well under a second when done.
# First run on a fresh machine takes 4-7 minutes (one `cargo install`); progress is printed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BINARYEN_VERSION="132.0.0"
TOOLS_DIR="${ROWSTREAM_TOOLS_DIR:-$HOME/.cache/rowstream-tools}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$TOOLS_DIR/node_modules/.bin:$PATH"

step() { printf '\033[1m[install-tools]\033[0m %s\n' "$*" >&2; }

# The wasm-bindgen CLI must match the crate that Cargo.lock resolved, byte for byte.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$here/Cargo.lock"
}

want_sudo() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_browser() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    step "installing Chromium and chromedriver from Debian (about a minute)"
    want_sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive want_sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

# `--browser`: only Chromium and chromedriver (scripts/test.sh runs this beside the builds,
# so it must touch nothing else: two `rustup target add` or `cargo install` at once collide).
if [ "${1:-}" = "--browser" ]; then
  install_browser
  step "browser ready: $(chromium --version 2>/dev/null | head -n1)"
  exit 0
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

wbg="$(wasm_bindgen_version)"
if [ -z "$wbg" ]; then echo "cannot read the wasm-bindgen version from Cargo.lock" >&2; exit 1; fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wbg" ]; then
  step "installing wasm-bindgen-cli $wbg (takes 3-7 minutes the first time)"
  # No --locked: its lockfile pins a webpki-roots version the registry no longer has.
  cargo install wasm-bindgen-cli --version "$wbg" --force
fi

if [ "$(wasm-opt --version 2>/dev/null | awk '{print $3}')" != "${BINARYEN_VERSION%%.*}" ]; then
  step "installing wasm-opt (binaryen $BINARYEN_VERSION from npm) into $TOOLS_DIR"
  mkdir -p "$TOOLS_DIR"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR" "binaryen@$BINARYEN_VERSION"
fi

if [ "${ROWSTREAM_SKIP_BROWSER:-}" != "1" ]; then
  install_browser
fi

step "tools ready: wasm-bindgen $(wasm-bindgen --version | awk '{print $2}'), wasm-opt $(wasm-opt --version | awk '{print $3}')"
