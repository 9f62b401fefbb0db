#!/usr/bin/env bash
# For CI (.ci/run), after `npm install` and before `npm test`:
#   1. what the suites need from the system, installed with apt-get (one `apt-get update` for all) when
#      missing and we are root: the build tools of llama-server (cmake, a C++ compiler, git), and
#      Prometheus (Debian's `prometheus`: test/prometheus.e2e.spec.ts runs the binary itself on a free
#      port; no Prometheus service is started, none is needed; HUSH_SKIP_PROMETHEUS=1 skips that suite),
#      and Redis (Debian's `redis-server`: test/redis-store.spec.ts runs the binary itself on a free port,
#      no service either; HUSH_SKIP_REDIS=1 skips the Redis suites);
#   2. llama-server itself, built from the llama.cpp source inside node-llama-cpp into
#      ~/.cache/hush-providers (or $HUSH_PROVIDERS_CACHE): about 5 minutes on 2 cores the first time,
#      nothing when that cache is kept between runs;
#   3. the tiny models (models/ and the tests' copy), offline, in seconds.
# `npm test` would do 2 and 3 itself (pretest); doing them here puts their time on a line of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

# Prometheus as the test finds it: $PROMETHEUS_BIN, else `prometheus` on the PATH.
have_prometheus() {
  if [ -n "${PROMETHEUS_BIN:-}" ]; then [ -x "$PROMETHEUS_BIN" ]; else command -v prometheus >/dev/null 2>&1; fi
}

# redis-server as the tests find it: $REDIS_SERVER_BIN, else `redis-server` on the PATH.
have_redis() {
  if [ -n "${REDIS_SERVER_BIN:-}" ]; then [ -x "$REDIS_SERVER_BIN" ]; else command -v redis-server >/dev/null 2>&1; fi
}

packages=()
missing=()
if ! node scripts/llama-server.mjs check >/dev/null 2>&1; then
  packages+=(cmake g++ make git)
  missing+=("cmake, a C++ compiler and git (or set HUSH_SKIP_LLAMA_SERVER=1 to skip the llama-server suite)")
fi
if [ "${HUSH_SKIP_PROMETHEUS:-}" != 1 ] && ! have_prometheus; then
  packages+=(prometheus)
  missing+=("prometheus: apt-get install -y --no-install-recommends prometheus, or PROMETHEUS_BIN=<its binary> (or set HUSH_SKIP_PROMETHEUS=1 to skip test/prometheus.e2e.spec.ts)")
fi

if [ "${HUSH_SKIP_REDIS:-}" != 1 ] && ! have_redis; then
  packages+=(redis-server)
  missing+=("redis-server: apt-get install -y --no-install-recommends redis-server, or REDIS_SERVER_BIN=<its binary> (or set HUSH_SKIP_REDIS=1 to skip the Redis suites)")
fi

if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ci-prepare: installing ${packages[*]}"
    # Debian's packages of daemons (prometheus, redis-server) start their service when installed. Nothing here needs
    # one (the test runs the binary), and where no init system runs (a container), starting it may fail
    # the install or leave a daemon behind: policy-rc.d, while we install, says no service may start.
    # A policy-rc.d already there (Docker's Debian images have one) is left as it is.
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\n# ci-prepare.sh: no service starts while it installs packages.\nexit 101\n' >"$policy"
      chmod 755 "$policy"
      made_policy=1
      trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    if [ -n "$made_policy" ]; then
      rm -f "$policy"
      trap - EXIT
    fi
  else
    if ! node scripts/llama-server.mjs check >/dev/null 2>&1; then node scripts/llama-server.mjs check || true; fi
    for what in "${missing[@]}"; do echo "ci-prepare: install $what" >&2; done
    exit 1
  fi
fi
if [ "${HUSH_SKIP_PROMETHEUS:-}" != 1 ]; then
  have_prometheus || { echo "ci-prepare: still no prometheus (${PROMETHEUS_BIN:-not on the PATH}) after the install" >&2; exit 1; }
  echo "ci-prepare: $("${PROMETHEUS_BIN:-prometheus}" --version 2>&1 | head -n 1)"
fi
if [ "${HUSH_SKIP_REDIS:-}" != 1 ]; then
  have_redis || { echo "ci-prepare: still no redis-server (${REDIS_SERVER_BIN:-not on the PATH}) after the install" >&2; exit 1; }
  echo "ci-prepare: $("${REDIS_SERVER_BIN:-redis-server}" --version 2>&1 | head -n 1)"
fi

start=$(date +%s)
node scripts/llama-server.mjs build
echo "ci-prepare: llama-server ready in $(( $(date +%s) - start )) s"
node scripts/prepare-local-models.mjs start
