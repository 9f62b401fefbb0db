#!/usr/bin/env bash
# For CI (.ci/run), after `npm install` and before `npm test`:
#   1. the build tools of llama-server (cmake, a C++ compiler, git), installed with apt-get when
#      missing and we are root;
#   2. llama-server itself, built from the llama.cpp source inside node-llama-cpp into
#      ~/.cache/hush-providers (or $HUSH_PROVIDERS_CACHE): about 5 minutes on 2 cores the first time,
#      nothing when that cache is kept between runs;
#   3. the tiny models (models/ and the tests' copy), offline, in seconds.
# `npm test` would do 2 and 3 itself (pretest); doing them here puts their time on a line of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! node scripts/llama-server.mjs check >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ci-prepare: installing cmake, g++ and git"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends cmake g++ make git >/dev/null
  else
    node scripts/llama-server.mjs check || true
    echo "ci-prepare: install cmake, a C++ compiler and git (or set HUSH_SKIP_LLAMA_SERVER=1 to skip the llama-server suite)" >&2
    exit 1
  fi
fi

start=$(date +%s)
node scripts/llama-server.mjs build
echo "ci-prepare: llama-server ready in $(( $(date +%s) - start )) s"
node scripts/prepare-local-models.mjs start
