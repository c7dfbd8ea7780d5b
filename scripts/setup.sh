# Sourced by ./dataos and ./run-tests: make .venv with what they need, once.
# Usage: ensure_venv runtime|test   (idempotent: re-runs only when pyproject.toml changes)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DATAOS_VENV:-$ROOT/.venv}"

find_python() {
    local py
    for py in python3.13 python3.12 python3.11 python3 python; do
        if command -v "$py" >/dev/null 2>&1 &&
           "$py" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
            echo "$py"; return 0
        fi
    done
    echo "dataos needs Python 3.11 or newer (with venv); none was found on PATH" >&2
    return 1
}

quietly() {  # run a command; show its output only if it fails
    local log="$VENV/install.log"
    if ! "$@" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "failed: $* (full log: $log)" >&2
        return 1
    fi
}

ensure_venv() {
    local what="$1" extras="" stamp digest
    [ "$what" = test ] && extras="[test]"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "setting up $VENV (once) ..." >&2
        "$(find_python)" -m venv "$VENV"
        quietly "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip
    fi
    stamp="$VENV/.installed-$what"
    digest="$(cat "$ROOT/pyproject.toml" | "$VENV/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
        echo "installing dataos-shell$extras into $VENV ..." >&2
        quietly "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$ROOT$extras"
        echo "$digest" > "$stamp"
    fi
}

ensure_sandbox() {  # bubblewrap sandboxes local pods; without it only the operator's workloads run
    command -v bwrap >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing bubblewrap (the pods' sandbox) ..." >&2
        { apt-get install -y -q bubblewrap || { apt-get update -q && apt-get install -y -q bubblewrap; }; } \
            >"$VENV/bubblewrap.log" 2>&1 || echo "could not install bubblewrap (see $VENV/bubblewrap.log)" >&2
    elif [ ! -f "$VENV/.sandbox-hint" ]; then
        echo "note: bubblewrap is not installed, so pods run unsandboxed and only your own workloads run;" \
             "install it with: sudo apt install bubblewrap (or your system's package)" >&2
        touch "$VENV/.sandbox-hint"
    fi
}
