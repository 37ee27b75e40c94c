# Shared settings for tests/env/* scripts (sourced, not executed).
# Pinned versions: change here, then run `tests/env/build --regen`.
KSCRIPT_K8S_VERSION=v1.37.2
KSCRIPT_ETCD_VERSION=v3.6.16
KSCRIPT_KWOK_VERSION=v0.8.0

KSCRIPT_ENV_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KSCRIPT_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/kscript
KSCRIPT_K8S_BIN=$KSCRIPT_CACHE/k8s-$KSCRIPT_K8S_VERSION
KSCRIPT_ETCD_BIN=$KSCRIPT_CACHE/etcd-$KSCRIPT_ETCD_VERSION
KSCRIPT_KWOK_BIN=$KSCRIPT_CACHE/kwok-$KSCRIPT_KWOK_VERSION
# Well-known pointer to the running environment (one per machine/user).
KSCRIPT_ENV_CURRENT=${KSCRIPT_ENV_CURRENT:-${TMPDIR:-/tmp}/kscript-env.current}

if [ -d /usr/local/go/bin ] && ! command -v go >/dev/null 2>&1; then
  PATH=/usr/local/go/bin:$PATH
fi
# Prefer the distribution python (pyenv shims may not resolve inside `ip netns exec`).
if [ -x /usr/bin/python3 ]; then KSCRIPT_PY=/usr/bin/python3; else KSCRIPT_PY=$(command -v python3); fi

log() { printf '%s %s\n' "[env $(date +%H:%M:%S)]" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
