#!/usr/bin/env bash
# Refreshes the admin UI's vendored ES modules from their npm packages (no build step: the files
# are committed and served as they are). Bump a version below, run this, test, commit.
#   preact + preact/hooks: components and state;  htm: JSX-like tagged templates without a compiler;
#   uplot: the dashboard's time-series charts.
set -euo pipefail
PREACT=11.2.0
HTM=3.1.1
UPLOT=1.6.32

out="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "preact@$PREACT" "htm@$HTM" "uplot@$UPLOT" >/dev/null
for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done

# Strip source-map comments (the maps are not shipped) and point bare imports at the sibling files.
copy() { sed -e '/^\/\/# sourceMappingURL=/d' -e 's|from"preact"|from"./preact.js"|g' "$1" >"$out/$2"; }
copy "preact-$PREACT/package/dist/preact.mjs" preact.js
copy "preact-$PREACT/package/hooks/dist/hooks.mjs" hooks.js
copy "htm-$HTM/package/dist/htm.module.js" htm.js
copy "uplot-$UPLOT/package/dist/uPlot.esm.js" uplot.js
cp "uplot-$UPLOT/package/dist/uPlot.min.css" "$out/uplot.css"
{
  echo "Vendored by refresh.sh from npm; each package's licence follows."
  for p in "preact-$PREACT" "htm-$HTM" "uplot-$UPLOT"; do
    printf '\n==== %s ====\n' "$p"
    cat "$p/package/LICENSE"*
  done
} >"$out/LICENSES.txt"
printf 'preact %s\nhtm %s\nuplot %s\n' "$PREACT" "$HTM" "$UPLOT" >"$out/VERSIONS"
grep -l 'from"preact"\|from "preact"' "$out"/*.js && { echo "bare import left" >&2; exit 1; }
echo "vendored: $(tr '\n' ' ' <"$out/VERSIONS")"
