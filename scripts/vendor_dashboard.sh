#!/usr/bin/env bash
# The dashboard's third-party files (crates/server/assets/vendor/), at pinned versions from
# the npm registry: xterm.js and its fit addon (the session terminal), uPlot (the charts).
#   scripts/vendor_dashboard.sh           fetch the pinned versions with `npm pack` into a
#                                         temporary folder, copy the files and their
#                                         LICENSE files, and write vendor/VENDOR.json
#   scripts/vendor_dashboard.sh --check   verify the committed files against the sha256
#                                         in VENDOR.json (no network); non-zero on a mismatch
# To move to another version: change PACKAGES below, run without --check, commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

VENDOR=crates/server/assets/vendor
MANIFEST=$VENDOR/VENDOR.json

# package@version  file-in-package  destination-under-vendor
PACKAGES=(
  "@xterm/xterm@6.0.0     lib/xterm.js           xterm/lib/xterm.js"
  "@xterm/xterm@6.0.0     css/xterm.css          xterm/css/xterm.css"
  "@xterm/xterm@6.0.0     LICENSE                xterm/LICENSE"
  "@xterm/addon-fit@0.11.0 lib/addon-fit.js      addon-fit/lib/addon-fit.js"
  "@xterm/addon-fit@0.11.0 LICENSE               addon-fit/LICENSE"
  "uplot@1.6.32           dist/uPlot.iife.min.js uplot/dist/uPlot.iife.min.js"
  "uplot@1.6.32           dist/uPlot.min.css     uplot/dist/uPlot.min.css"
  "uplot@1.6.32           LICENSE                uplot/LICENSE"
)

sha256() { sha256sum "$1" | cut -d' ' -f1; }

if [ "${1:-}" = "--check" ]; then
  [ -f "$MANIFEST" ] || { echo "vendor_dashboard.sh: $MANIFEST is missing; run scripts/vendor_dashboard.sh" >&2; exit 1; }
  bad=0
  # One "path sha256" line per file, read from the manifest by Python (no jq needed).
  while read -r path want; do
    if [ ! -f "$VENDOR/$path" ]; then
      echo "vendor_dashboard.sh: $VENDOR/$path is missing (VENDOR.json lists it)" >&2
      bad=1
      continue
    fi
    got=$(sha256 "$VENDOR/$path")
    if [ "$got" != "$want" ]; then
      echo "vendor_dashboard.sh: $VENDOR/$path differs from VENDOR.json (sha256 $got, expected $want); run scripts/vendor_dashboard.sh to restore the pinned file" >&2
      bad=1
    fi
  done < <(python3 -c '
import json, sys
for f in json.load(open(sys.argv[1]))["files"]:
    print(f["file"], f["sha256"])
' "$MANIFEST")
  # Every pinned file must be in the manifest too.
  for entry in "${PACKAGES[@]}"; do
    read -r _ _ dest <<<"$entry"
    grep -q "\"$dest\"" "$MANIFEST" || { echo "vendor_dashboard.sh: $dest is pinned here but not in VENDOR.json" >&2; bad=1; }
  done
  if [ "$bad" -ne 0 ]; then
    exit 1
  fi
  echo "vendor_dashboard.sh: the vendored files match VENDOR.json"
  exit 0
fi

command -v npm >/dev/null || { echo "vendor_dashboard.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A unpacked=()
entries=()
for entry in "${PACKAGES[@]}"; do
  read -r spec src dest <<<"$entry"
  if [ -z "${unpacked[$spec]:-}" ]; then
    dir="$tmp/pkg${#unpacked[@]}"
    mkdir -p "$dir"
    tgz=$(cd "$dir" && npm pack --silent "$spec" | tail -n 1)
    tar -xzf "$dir/$tgz" -C "$dir"
    unpacked[$spec]="$dir/package"
  fi
  from="${unpacked[$spec]}/$src"
  [ -f "$from" ] || { echo "vendor_dashboard.sh: $spec has no $src" >&2; exit 1; }
  mkdir -p "$(dirname "$VENDOR/$dest")"
  cp "$from" "$VENDOR/$dest"
  pkg=${spec%@*}
  ver=${spec##*@}
  entries+=("$pkg	$ver	$dest	$(sha256 "$VENDOR/$dest")")
done

printf '%s\n' "${entries[@]}" | python3 -c '
import json, sys
files = []
for line in sys.stdin:
    pkg, ver, dest, sha = line.rstrip("\n").split("\t")
    files.append({"package": pkg, "version": ver, "file": dest, "sha256": sha})
doc = {"comment": "Written by scripts/vendor_dashboard.sh from the npm registry; check with scripts/vendor_dashboard.sh --check. Paths are relative to this folder.",
       "files": files}
with open(sys.argv[1], "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
' "$MANIFEST"
echo "vendor_dashboard.sh: wrote ${#entries[@]} files and $MANIFEST"
