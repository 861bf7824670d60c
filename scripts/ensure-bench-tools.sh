#!/usr/bin/env bash
# What the benchmarks drive that pip cannot install: Debian's nginx-light (the balance contract
# served from memory, so the server is not the limit) and wrk (the loopback's raw rate).
set -euo pipefail
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${missing[*]} for the benchmarks..."
  apt-get update -qq >/dev/null
  # policy-rc.d 101: the package must not start a system nginx on port 80; bench starts its own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "${missing[*]} not installed and cannot be installed here (not root or no apt-get)." >&2
  echo "install with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
