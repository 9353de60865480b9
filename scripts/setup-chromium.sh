#!/usr/bin/env bash
# Installs headless Chromium (Debian's `chromium` package, /usr/bin/chromium), which the browser
# test of report/ (report/browser_test.go) drives to check that report.html opens and its plots
# render.
#
# Idempotent: when /usr/bin/chromium is there it exits at once. Otherwise, as root with apt-get,
# it installs the package (running `apt-get update` first only when apt has no package lists or
# does not know the package). Without root or apt-get it prints how to install Chromium and exits
# 0: the browser test then skips, except under CI (CI set), where it fails.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

say() { printf 'setup-chromium: %s\n' "$*" >&2; }

if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  say "$CHROMIUM is absent and this script can only install it as root on Debian/Ubuntu."
  say "Install it with: sudo apt-get update && sudo apt-get install -y chromium"
  say "(without it the browser test of report/ skips; under CI it fails)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive

# `apt-cache policy` prints a "Candidate:" line only when the package lists know the package.
has_candidate() {
  apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'
}
if ! has_candidate; then
  say "apt-get update"
  apt-get update -qq
fi

say "installing chromium"
apt-get install -y -qq chromium
[[ -x "$CHROMIUM" ]] || { say "apt-get installed chromium but $CHROMIUM is missing"; exit 1; }
say "installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
