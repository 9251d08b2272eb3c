# shellcheck shell=bash
# Shared by the scripts in this folder: where the project lives, where its cached
# environment lives, and how to enter it. Sourced, never run.
set -euo pipefail

MICRODC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# Caches live outside the clone so that a fresh clone on the same machine reuses them.
MICRODC_CACHE=${MICRODC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/microdc}
MICRODC_MIN_PYTHON=3.14.2

# Packages of the Debian-testing root file system; its cache key is derived from this list.
MICRODC_ROOTFS_PACKAGES="python3.14,python3.14-venv,python3.14-dev,build-essential,git,ca-certificates,libturbojpeg0,libpcap0.8,curl"

microdc_log() { printf 'microdc: %s\n' "$*" >&2; }

microdc_hash() { sha256sum | cut -c1-16; }

# The requirement files decide the venv; a change to any of them rebuilds it.
microdc_requirements_key() {
  cat "$MICRODC_ROOT"/requirements*.txt | microdc_hash
}

microdc_rootfs_dir() {
  printf '%s/rootfs-%s' "$MICRODC_CACHE" "$(printf '%s' "$MICRODC_ROOTFS_PACKAGES" | microdc_hash)"
}

# Prints a Python >= MICRODC_MIN_PYTHON found on PATH, or nothing.
microdc_find_python() {
  local candidate
  for candidate in python3.14 python3 python; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c "import sys; sys.exit(sys.version_info < tuple(int(p) for p in '$MICRODC_MIN_PYTHON'.split('.')))" 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 0
}

# native: a venv at .venv built from a Python on PATH; rootfs: a venv inside the cached root file system.
microdc_mode() {
  if [ -n "$(microdc_find_python)" ]; then echo native; else echo rootfs; fi
}

microdc_venv_dir() {
  case "$(microdc_mode)" in
    native) printf '%s/.venv' "$MICRODC_ROOT" ;;
    rootfs) printf '/opt/microdc/venv-%s' "$(microdc_requirements_key)" ;;
  esac
}

microdc_is_ready() {
  local stamp
  case "$(microdc_mode)" in
    native) stamp="$MICRODC_ROOT/.venv/.microdc-requirements" ;;
    rootfs) stamp="$(microdc_rootfs_dir)$(microdc_venv_dir)/.microdc-requirements" ;;
  esac
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(microdc_requirements_key)" ]
}

# Runs "$@" in the project's environment, from the repository root, with the repository on
# PYTHONPATH (so benchmarks and tools import microdc and the simulator). In rootfs mode the
# mounts live in a private mount namespace, so the kernel removes them when the command
# ends, however it ends (failure, Ctrl-C, kill).
microdc_exec() {
  local venv
  venv=$(microdc_venv_dir)
  cd "$MICRODC_ROOT"
  if [ "$(microdc_mode)" = native ]; then
    PATH="$venv/bin:$PATH" VIRTUAL_ENV="$venv" PYTHONPATH="$MICRODC_ROOT" exec "$@"
  fi
  local rootfs
  rootfs=$(microdc_rootfs_dir)
  exec unshare --mount --propagation private /bin/bash -euc '
    rootfs=$1 repo=$2 venv=$3 workdir=$4; shift 4
    mount --rbind /proc "$rootfs/proc"
    mount --rbind /sys "$rootfs/sys"
    mount --rbind /dev "$rootfs/dev"
    mount -t tmpfs tmpfs "$rootfs/tmp"
    mkdir -p "$rootfs$repo"
    mount --bind "$repo" "$rootfs$repo"
    cp /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
    # PIP_FIND_LINKS names a host folder of wheels for another Python; it is not mounted here.
    exec chroot "$rootfs" /usr/bin/env -u PIP_FIND_LINKS PATH="$venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      VIRTUAL_ENV="$venv" PYTHONPATH="$repo" HOME=/root /bin/bash -c "cd \"\$0\" && exec \"\$@\"" "$workdir" "$@"
  ' microdc-env "$rootfs" "$MICRODC_ROOT" "$venv" "$PWD" "$@"
}
