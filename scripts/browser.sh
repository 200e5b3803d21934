#!/usr/bin/env bash
# Headless Chromium (Debian's `chromium`) and npm's playwright-core for the viewer's browser
# test; no browser is downloaded by npm. Prints the node_modules directory to use.
#
#   scripts/browser.sh   installs what is missing (apt-get for chromium, npm for playwright-core)
#
# Installs under a lock (two test binaries never install at once) into target/tools/browser.
source "$(dirname "$0")/lib/server.sh"

tools="$lib_root/target/tools/browser"
locked "$tools.lock"
if ! command -v chromium >/dev/null; then
  if command -v apt-get >/dev/null; then
    { apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } >&2
  fi
fi
command -v chromium >/dev/null || { echo "chromium is not installed and could not be" >&2; exit 1; }
command -v node >/dev/null || { echo "node not found: install Node.js" >&2; exit 1; }

npm_install() {
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$tools" --silent --no-audit --no-fund playwright-core@1 >&2
}
install_once "$tools" "$tools/node_modules/playwright-core/package.json" npm_install
echo "$tools/node_modules"
