#!/usr/bin/env bash
# Regenerates the lock, requirements/lock-linux-x86_64-py311.txt (`make lock` runs this with a pinned uv):
# every package of `.[all]` (all extras but gpu) pinned with ==, the project itself left out. `make install`
# (so CI's `make test`) and Binder (binder/requirements.txt) install from it. It is for Linux x86_64
# (glibc >= 2.34: ovito 3.17 ships manylinux_2_34 wheels only) and CPython >= 3.11.5 (soupsieve 4.1.3 needs it).
# uv keeps every version already pinned in the lock (it reads the file as preferences), so a rerun changes only
# what pyproject.toml forces; UPGRADE=1 re-resolves everything to the newest versions the ranges allow,
# UPGRADE_PACKAGE=name only that package. (Resolving from nothing, uv 0.13.9 picked tensorflow 2.20.0 and
# h5py 3.16.0, because tensorflow 2.21.0 requires h5py<3.15: the preferences are what keep the tested set.)
# UV: the uv executable (default: uv on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
LOCK=requirements/lock-linux-x86_64-py311.txt
common=(--python-version 3.11.5 --python-platform x86_64-manylinux_2_34 --index-url https://pypi.org/simple
        --custom-compile-command "make lock" --quiet)
if [ "${UPGRADE:-}" = 1 ]; then common+=(--upgrade); fi
if [ -n "${UPGRADE_PACKAGE:-}" ]; then common+=(--upgrade-package "$UPGRADE_PACKAGE"); fi
mkdir -p requirements

header() {  # the lines above uv's own header: what the file is, how to install it
    cat <<EOF
# $1
# Linux x86_64 (glibc >= 2.34), CPython 3.11 (>= 3.11.5); produced by scripts/lock.sh with uv $("$UV" --version | cut -d' ' -f2).
# Regenerate: make lock  (keeps the pins below unless pyproject.toml forces a change; make lock UPGRADE=1 re-resolves).
# Install: $2
EOF
}

compile() {  # output file, what it is, how to install it, then uv's flags
    local out=$1 text=$2 how=$3; shift 3
    local tmp
    tmp=$(mktemp)
    [ -f "$out" ] && cp "$out" "$tmp"                        # the current pins are uv's preferences
    "$UV" pip compile pyproject.toml "$@" "${common[@]}" -o "$tmp"
    { header "$text" "$how"; cat "$tmp"; } > "$tmp.new"    # replace the file only once all of it is written,
    if cmp -s "$tmp.new" "$out"; then rm "$tmp.new"; else mv "$tmp.new" "$out"; fi   # and only if it changed
    rm -f "$tmp"
}

compile "$LOCK" "The pinned environment of make install and CI: paper_lib[all] (workflow, widgets, baselines, test)." \
    "pip install -r $LOCK && pip install --no-deps -e '.[all]'  (make install; Binder: binder/requirements.txt)" --extra all
echo "wrote $LOCK ($(grep -c '==' "$LOCK") pins)"
