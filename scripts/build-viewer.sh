#!/usr/bin/env bash
# The one definition of how the viewer is built. Writes server/viewer/ (committed: the server
# embeds it, so building or installing the server needs no Wasm tool at all):
#
#   server/viewer/index.html                     from ./index.html, naming the assets below
#   server/viewer/assets/<hash>/frontend.js      wasm-bindgen's loader (--target web)
#   server/viewer/assets/<hash>/frontend_bg.wasm the viewer, optimised by wasm-opt -O3
#   server/viewer/assets/<hash>/style.css        frontend/style.css
#   server/viewer/assets/<hash>/boot.js          `init()`: no inline script, so a strict CSP holds
#
# <hash> is a digest of the assets: a new build gets new URLs, so they can be cached forever.
# The build is reproducible (paths remapped, wasm-opt deterministic): `--check` builds into a
# temporary directory and fails unless it matches the committed server/viewer/ byte for byte.
#
#   bash scripts/build-viewer.sh             build into server/viewer/ (2-4 minutes cold)
#   bash scripts/build-viewer.sh --check     CI: does server/viewer/ match its sources?
#   bash scripts/build-viewer.sh --dev --out DIR
#                                            development: unoptimised, no wasm-opt, seconds per
#                                            rebuild; then `rowstream serve --dist DIR`, reload
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
TOOLS_DIR="${ROWSTREAM_TOOLS_DIR:-$HOME/.cache/rowstream-tools}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$TOOLS_DIR/node_modules/.bin:$PATH"

committed="server/viewer"
out="$committed"
check=0
profile=wasm-release
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; shift ;;
    --dev) profile=dev; shift ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: $0 [--check] [--dev] [--out DIR]" >&2; exit 2 ;;
  esac
done
if [ "$profile" = dev ] && { [ "$check" = 1 ] || [ "$out" = "$committed" ]; }; then
  echo "--dev builds go elsewhere: pass --out DIR (server/viewer/ holds the release build)" >&2
  exit 2
fi

step() { printf '\033[1m[build-viewer]\033[0m %s\n' "$*" >&2; }

ROWSTREAM_SKIP_BROWSER=1 bash scripts/install-tools.sh

# The Wasm must not depend on where the checkout or the cargo home is. Paths in the code are
# remapped; and cargo runs with CARGO_HOME reached through a link at one fixed path, because
# leptos' wasm-split marker (wasm_split_macros::version_stamp) hashes the manifest path of a
# registry crate, which would otherwise differ between cargo homes. RUSTFLAGS replaces
# .cargo/config.toml's wasm32 rustflags, so the SIMD flag is repeated here.
cargo_home="$(cd "${CARGO_HOME:-$HOME/.cargo}" && pwd -P)"
fixed_home="${TMPDIR:-/tmp}/rowstream-build-viewer-cargo-home"
ln -sfn "$cargo_home" "$fixed_home"
export CARGO_HOME="$fixed_home"
export RUSTFLAGS="-C target-feature=+simd128 --remap-path-prefix=$here=/rowstream --remap-path-prefix=$fixed_home=/cargo"
step "cargo build -p frontend --target wasm32-unknown-unknown --profile $profile (2-4 minutes cold)"
cargo build --locked -p frontend --bin frontend --target wasm32-unknown-unknown --profile "$profile"
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
profile_dir="$profile"
if [ "$profile" = dev ]; then profile_dir=debug; fi
wasm="$target_dir/wasm32-unknown-unknown/$profile_dir/frontend.wasm"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
step "wasm-bindgen --target web"
wasm-bindgen --target web --no-typescript --out-dir "$work/bindgen" --out-name frontend "$wasm"
if [ "$profile" = dev ]; then
  cp "$work/bindgen/frontend_bg.wasm" "$work/frontend_bg.wasm"
else
  # -O3, not -Oz: -Oz re-optimises the decoder (built at opt-level 3, see Cargo.toml) for
  # size and made reading 500,000 rows ~30% slower in the viewer benchmark (1.70x the raw
  # fetch against 1.31x with -O3, one run), for 10 KB less.
  step "wasm-opt -O3"
  wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-reference-types --enable-multivalue \
    -o "$work/frontend_bg.wasm" "$work/bindgen/frontend_bg.wasm"
fi

stage="$work/stage"
mkdir -p "$stage/assets/new"
cp "$work/bindgen/frontend.js" "$stage/assets/new/frontend.js"
cp "$work/frontend_bg.wasm" "$stage/assets/new/frontend_bg.wasm"
cp frontend/style.css "$stage/assets/new/style.css"
# wasm-bindgen's loader finds frontend_bg.wasm next to itself (import.meta.url).
printf "import init from './frontend.js';\ninit();\n" > "$stage/assets/new/boot.js"
hash="$(cd "$stage/assets/new" && cat boot.js frontend.js frontend_bg.wasm style.css | sha256sum | cut -c1-16)"
mv "$stage/assets/new" "$stage/assets/$hash"
sed -e "s|{{ASSETS}}|/assets/$hash|g" index.html > "$stage/index.html"

if [ "$check" = 1 ]; then
  if diff -r "$committed" "$stage" >/dev/null; then
    step "server/viewer/ matches a build from the sources (assets/$hash)"
    exit 0
  fi
  step "FAIL: server/viewer/ does not match a build from the sources:"
  diff -rq "$committed" "$stage" >&2 || true
  echo "Run 'bash scripts/build-viewer.sh' and commit server/viewer/." >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -r "$stage" "$out"
step "built $out ($(du -sh "$out" | cut -f1); assets/$hash)"
