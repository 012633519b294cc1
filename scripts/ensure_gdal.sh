#!/usr/bin/env bash
# Debian's GDAL command-line tools (ogrinfo), for the test that loads the OGC collections with a
# token through GDAL_HTTP_HEADERS as a GIS user's own GDAL does.
set -euo pipefail
if ! command -v ogrinfo >/dev/null 2>&1; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends gdal-bin >&2
fi
command -v ogrinfo
