#!/usr/bin/env bash
# Builds the Worker (adapters/cloudflare → build/worker/shim.mjs + wasm) and installs, once, what
# that needs on this machine: the wasm32 target, worker-build, the wasm-bindgen CLI matching the
# crate's pinned wasm-bindgen, and the pinned wrangler (npm). Idempotent; used by .ci/run and by
# the Worker tests. worker-build would download wasm-bindgen and wasm-opt from GitHub, which this
# machine cannot reach: WASM_BINDGEN_BIN points it at the installed CLI, and wasm-opt is disabled
# in the crate's metadata.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
crate="$root/adapters/cloudflare"
bindgen_version="$(grep -A1 'name = "wasm-bindgen"' "$crate/Cargo.lock" 2>/dev/null | sed -n 's/version = "\(.*\)"/\1/p' | head -1)"
bindgen_version="${bindgen_version:-0.2.130}"

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
if ! worker-build --version 2>/dev/null | grep -q "0.8.7"; then
  cargo install worker-build --version 0.8.7 --locked
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q "$bindgen_version"; then
  cargo install wasm-bindgen-cli --version "$bindgen_version"
fi
if [ ! -x "$here/node_modules/.bin/wrangler" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
(cd "$crate" && worker-build --release)
wasm="$(ls "$crate"/build/*.wasm | head -1)"
echo "worker wasm: $(stat -c %s "$wasm") bytes raw, $(gzip -9 -c "$wasm" | wc -c) bytes gzip"
