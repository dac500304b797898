#!/bin/sh
# Sets up a fresh Debian machine for the test suite: Debian's headless
# Chromium, which the documentation's browser test drives (nothing downloads a
# browser at run time), and the project with its test extra.
set -eu
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
fi
python3 -m pip install -e '.[test]'
