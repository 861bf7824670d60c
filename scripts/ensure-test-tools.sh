#!/usr/bin/env bash
# Tools the tests drive that pip cannot install: Debian's Chromium for the dashboard's browser
# tests (Playwright cannot download browsers here) and promtool (Debian's prometheus package)
# for the shipped alert rules. Install what is missing when we are allowed to; otherwise say so
# and let the tests decide (they fail under CI=true).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${missing[*]} for the tests..."
  apt-get update -qq >/dev/null
  # The prometheus package would start a server of its own; only its promtool is wanted.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "${missing[*]} not installed and cannot be installed here (not root or no apt-get)." >&2
  echo "install with: sudo apt-get install ${missing[*]}" >&2
fi
