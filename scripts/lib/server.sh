# Sourced by the scripts that install tools and run servers for the tests (dynamodb-local.sh,
# phoenix.sh, browser.sh, reference-python.sh). One way to do the three things they share:
#
# * install under a lock: `locked FILE` serialises every script (and every test binary) that
#   installs into one place, so two never run `pip install` or `npm install` into it at once;
# * notice a broken half-install: `install_once DIR FILE CMD...` writes DIR/.installed only
#   after CMD succeeded and left FILE behind, and a DIR without both is installed again;
# * never leave a server behind: `server_main` (start/stop/url) lets a caller lease a server by
#   setting TRACEKIT_OWNER_PID (the test binaries do, with their own pid). A server started for
#   an owner gets a watchdog that stops it once no owner has been alive for
#   TRACEKIT_SERVER_GRACE seconds (default 5): the test run ended, by success, failure, panic,
#   Ctrl-C or SIGKILL. A server started without an owner (by hand, or by .ci/run) runs until
#   `stop`; owners may use it, and it is never stopped for them.

set -euo pipefail

lib_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Takes an exclusive lock on FILE until this script exits (file descriptor 9).
locked() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  if ! flock -w 1800 9; then
    echo "gave up after 30 minutes waiting for $1 (another install still running?)" >&2
    exit 1
  fi
}

# Prints a CPython to build a venv from: $VAR if set, else the first of VERSIONS found as
# pythonX.Y on PATH or, newest first, under pyenv (whose shims answer `command -v` for
# versions that are not active, so each is run to be sure). Fails if none is found.
find_python() {
  local var=$1
  shift
  if [[ -n "${!var:-}" ]]; then echo "${!var}"; return; fi
  local v found
  for v in "$@"; do
    if "python$v" -c "" >/dev/null 2>&1; then command -v "python$v"; return; fi
    found=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
    if [[ -n "$found" ]]; then echo "$found"; return; fi
  done
  return 1
}

# Runs CMD... (which installs into DIR, leaving FILE) unless DIR/.installed and FILE say an
# earlier run finished. Call it under `locked`.
install_once() {
  local dir=$1 file=$2
  shift 2
  if [[ -f "$dir/.installed" && -e "$file" ]]; then return 0; fi
  if [[ -e "$dir" ]]; then
    echo "$dir: an earlier install did not finish; installing again" >&2
    rm -rf "$dir"
  fi
  mkdir -p "$dir"
  if ! "$@"; then
    rm -rf "$dir"
    return 1
  fi
  if [[ ! -e "$file" ]]; then
    echo "$dir: the install finished without $file" >&2
    rm -rf "$dir"
    return 1
  fi
  touch "$dir/.installed"
}

# A server script sets these, then calls `server_main "$@"`:
#   server_name    what it is, for messages
#   server_lock    the lock its installs, starts and stops take (one per tool, all ports)
#   server_state   a directory for its pid file, owners, log (one per port)
#   server_url     its URL
#   server_install function: installs what it needs (under the lock)
#   server_launch  function: starts it in the background in a session of its own (`setsid`),
#                  its output in "$server_state/log"; prints its pid
#   server_ready   function: succeeds once it answers
# and optionally server_cleanup, run after it has stopped.
server_main() {
  pidfile="$server_state/pid"
  owners="$server_state/owners"
  case "${1:-}" in
    start)
      locked "$server_lock"
      server_install
      if ! running; then launch_and_wait; fi
      lease
      echo "$server_url"
      ;;
    stop)
      locked "$server_lock"
      stop_now
      ;;
    url)
      running && echo "$server_url"
      ;;
    watch)
      watch
      ;;
    *)
      echo "usage: $0 start|stop|url" >&2
      exit 2
      ;;
  esac
}

running() {
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

launch_and_wait() {
  mkdir -p "$server_state"
  rm -rf "$owners" "$server_state/owned"
  server_launch >"$pidfile"
  for _ in $(seq 1 600); do
    if server_ready; then
      if [[ -n "${TRACEKIT_OWNER_PID:-}" ]]; then : >"$server_state/owned"; fi
      return 0
    fi
    running || break
    sleep 0.1
  done
  tail -20 "$server_state/log" >&2 || true
  stop_now
  # Last, so that a caller showing one line shows this one.
  echo "$server_name did not start at $server_url; see $server_state/log" >&2
  exit 1
}

# Records TRACEKIT_OWNER_PID as an owner of a server started for owners, and makes sure its
# watchdog runs.
lease() {
  local owner="${TRACEKIT_OWNER_PID:-}"
  if [[ -z "$owner" || ! -f "$server_state/owned" ]]; then return 0; fi
  mkdir -p "$owners"
  : >"$owners/$owner"
  if [[ -f "$server_state/watchdog" ]] && kill -0 "$(cat "$server_state/watchdog")" 2>/dev/null; then
    return 0
  fi
  # Its own session and no inherited descriptors: Ctrl-C in the terminal does not reach it, and
  # it does not hold the lock or the caller's pipes open.
  setsid bash "$0" watch </dev/null >>"$server_state/log" 2>&1 9>&- &
  echo $! >"$server_state/watchdog"
}

# The watchdog: once no owner has been alive for the grace period, stops the server (under
# the lock, checking the owners again, so an owner that arrives meanwhile keeps it).
watch() {
  local grace="${TRACEKIT_SERVER_GRACE:-5}" idle=0
  while running; do
    sleep 1
    if owned_by_a_live_process; then idle=0; else idle=$((idle + 1)); fi
    if ((idle >= grace)); then
      locked "$server_lock"
      if ! owned_by_a_live_process; then
        echo "watchdog: no owner left; stopping $server_name" >&2
        stop_now
        exit 0
      fi
      exec 9>&-
      idle=0
    fi
  done
}

owned_by_a_live_process() {
  local f alive=1
  for f in "$owners"/*; do
    [[ -e "$f" ]] || continue
    if kill -0 "${f##*/}" 2>/dev/null; then alive=0; else rm -f "$f"; fi
  done
  return $alive
}

stop_now() {
  if running; then
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    # Gone before this returns, so the port is free for a restart.
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$pidfile" "$owners" "$server_state/owned"
  if declare -F server_cleanup >/dev/null; then server_cleanup; fi
  # The watchdog, unless this is it.
  if [[ -f "$server_state/watchdog" ]]; then
    local dog
    dog="$(cat "$server_state/watchdog")"
    rm -f "$server_state/watchdog"
    if [[ "$dog" != "$$" ]]; then kill "$dog" 2>/dev/null || true; fi
  fi
}
