#!/usr/bin/env bash
# Makes Debian's Chromium and its WebDriver (chromedriver) available for the web UI test.
#
# Run as root on Debian 12. Safe to run again: does nothing when both are already installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    echo "setup-browser: chromium and chromedriver are installed" >&2
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "setup-browser: chromium and chromium-driver are missing; run this script as root, or: apt-get install chromium chromium-driver" >&2
    exit 1
fi
echo "setup-browser: installing Debian's chromium and chromium-driver" >&2
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
/usr/bin/chromium --version >&2
