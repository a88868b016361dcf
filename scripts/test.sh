#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine, then runs them.
#
#  - a Python virtual environment with Statistics Canada's `banff` package (the
#    reference the Hidiroglou–Berthelot implementation is compared with), pandas
#    and pyarrow: target/test-venv;
#  - headless Chromium, ChromeDriver and a CJK font, to open scorecard.html and
#    drive the web page of `zhibao serve` in a real browser (Debian packages;
#    needs root or sudo, skipped with a warning otherwise — the browser tests
#    then fail and say why);
#  - then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/test-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import banff, pandas, pyarrow" 2>/dev/null; then
  echo "setting up $venv (banff, pandas, pyarrow)…"
  mkdir -p target
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check banff pandas pyarrow
fi
export ZHIBAO_TEST_PYTHON="$PWD/$venv/bin/python"

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then
  sudo=""
  [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
  if [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; then
    echo "installing chromium, chromium-driver and fonts-noto-cjk…"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
  else
    echo "warning: cannot install chromium (not root); the browser test will fail" >&2
  fi
fi

cargo test "$@"
