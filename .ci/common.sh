#!/usr/bin/env bash
# Shared by .ci/run and .ci/demo: find Python 3.12 and install tox in a
# throw-away venv (sourced, not run).

find_python() {
    if command -v python3.12 >/dev/null 2>&1 && python3.12 --version >/dev/null 2>&1; then
        command -v python3.12
        return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        local candidate
        for candidate in "$(pyenv root)"/versions/3.12.*/bin/python3.12; do
            if [ -x "$candidate" ]; then
                echo "$candidate"
                return
            fi
        done
    fi
    echo "error: Python 3.12 not found (install it, or with pyenv: pyenv install 3.12)" >&2
    exit 1
}

with_tox() {
    # with_tox ENV [ARGS...]: run a tox environment with the found Python
    local python tools
    python=$(find_python)
    echo "python: $python ($("$python" --version))"
    export PATH="$(dirname "$python"):$PATH"
    tools=$(mktemp -d)
    trap "rm -rf '$tools'" EXIT
    "$python" -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check tox
    "$tools/venv/bin/tox" -e "$1" --discover "$python" -- "${@:2}"
}
