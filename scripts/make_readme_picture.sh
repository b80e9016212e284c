#!/usr/bin/env bash
# Regenerate docs/report.png (the README's picture) from `liqtools report` with headless chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
.venv/bin/liqtools report -o "$tmp/report.html" >/dev/null
chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$tmp/profile" \
  --window-size=960,960 --virtual-time-budget=5000 --screenshot="$tmp/full.png" "file://$tmp/report.html" 2>/dev/null
.venv/bin/python - "$tmp/full.png" docs/report.png <<'PY'
import sys
from PIL import Image
Image.open(sys.argv[1]).crop((0, 0, 960, 960)).convert("P", palette=Image.ADAPTIVE, colors=128).save(sys.argv[2], optimize=True)
PY
rm -rf "$tmp"
echo "wrote docs/report.png"
