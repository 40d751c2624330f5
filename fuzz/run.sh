#!/usr/bin/env bash
# Runs the fuzz targets: `fuzz/run.sh [SECONDS] [TARGET...]` (default 20 s each, every target).
# Seeds each corpus from the codec fixtures (with the leading protocol-selector byte the targets
# read). Needs cargo-fuzz; uses the nightly toolchain when installed, else stable with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z sanitizer flags). A crash leaves its input under
# fuzz/artifacts/<target>/ and fails the run: turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(sse requests responses streams templates multipart)

toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

fixtures=../gateway-core/tests/fixtures
seed() { # seed TARGET SELECTOR FILE
  mkdir -p "corpus/$1"
  local out
  out="corpus/$1/seed-$2-$(basename "$(dirname "$3")")-$(basename "$3")"
  [ -e "$out" ] || { printf "\\x$(printf %02x "$2")"; cat "$3"; } > "$out"
}
protocols=(openai_chat openai_responses anthropic_messages gemini bedrock_converse)
for i in "${!protocols[@]}"; do
  dir="$fixtures/${protocols[$i]}"
  for f in "$dir"/*.sse; do [ -e "$f" ] && seed streams "$i" "$f" && seed sse 1 "$f"; done
  [ -e "$dir/response.json" ] && seed responses "$i" "$dir/response.json"
  [ "$i" -lt 3 ] && [ -e "$dir/request.json" ] && seed requests "$i" "$dir/request.json"
done
mkdir -p corpus/multipart
printf -- '--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\nRIFF\r\n--b--\r\n' > corpus/multipart/seed-form
mkdir -p corpus/templates
printf 'Today is {{date}}; model {{model}} for {{key_name}}. {{unknown}} {{' > corpus/templates/seed-template
printf '[{"op":"system_prepend","template":"Be kind to {{key_name}}"},{"op":"replace","match":"h(e)llo","template":"bye"}]' > corpus/templates/seed-rules

for t in "${targets[@]}"; do
  echo "== fuzz $t for ${seconds}s"
  log="$(mktemp)"
  status=0
  cargo "${toolchain[@]}" fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$log" || true
  if [ "$status" -ne 0 ] || [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
    tail -n 60 "$log" >&2
    echo "fuzz target $t failed (exit $status); crash inputs: $(ls "artifacts/$t" 2>/dev/null)" >&2
    exit 1
  fi
  rm -f "$log"
done
