#!/usr/bin/env bash
# Renders an SVG file (an `aasim run --svg` diagram, a latency chart) to a PNG of its own
# size with headless Chromium (Debian's `chromium`, installed by scripts/setup.sh).
# Usage: scripts/svg_to_png.sh IN.svg OUT.png
set -euo pipefail
in=$1
out=$2
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "svg_to_png: chromium not found (scripts/setup.sh installs it)" >&2
  exit 2
fi
# The size of the <svg> element: its width and height attributes, rounded up.
read -r width height < <(python3 - "$in" <<'PY'
import math, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
print(math.ceil(float(root.get("width"))), math.ceil(float(root.get("height"))))
PY
)
abs=$(cd "$(dirname "$in")" && pwd)/$(basename "$in")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
  --window-size="$width,$height" --screenshot="$out" "file://$abs" >/dev/null 2>&1
test -s "$out"
