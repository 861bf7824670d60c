#!/usr/bin/env bash
# The dashboard's browser tests drive Debian's Chromium (Playwright cannot download browsers
# here). Install it when missing and we are allowed to; otherwise say so and let the tests decide.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium is not installed and cannot be installed here (not root or no apt-get)." >&2
  echo "install it with: sudo apt-get install chromium" >&2
fi
