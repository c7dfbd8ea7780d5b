#!/usr/bin/env bash
# Build the kernel's image without a container engine: wheels built on this host, a Debian base
# made with debootstrap, the wheels installed into it, packed as an OCI archive that `docker load`,
# `podman load` or `skopeo copy oci-archive:…` take. Needs root (debootstrap, chroot) and, once,
# the Debian mirror and the Python package index (install time; the base is kept in the cache).
#   scripts/build-image.sh [OUT.tar]    (default dist/dataos-kernel-VERSION.oci.tar)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_venv test >/dev/null
version=$(.venv/bin/python -c 'import syscalls; print(syscalls.__version__)')
out=${1:-dist/dataos-kernel-$version.oci.tar}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/dataos-image
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "build-image: run as root (debootstrap and chroot need it)" >&2; exit 1; }
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null

base=$cache/base-bookworm
if [ ! -e "$base/.done" ]; then
  echo "making the Debian base in $base (once) ..."
  rm -rf "$base"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$base" "$mirror" >/dev/null
  rm -rf "$base/var/cache/apt/archives"/*.deb "$base/var/lib/apt/lists"/*
  touch "$base/.done"
fi

work=$(mktemp -d)
trap 'umount "$work/root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
echo "building the wheels ..."
.venv/bin/pip wheel --quiet --wheel-dir "$work/wheels" '.[postgresql]'
cp -a "$base" "$work/root"
rm -f "$work/root/.done"
mkdir -p "$work/root/tmp/wheels"
cp "$work/wheels"/*.whl "$work/root/tmp/wheels/"
mount -t proc proc "$work/root/proc"
chroot "$work/root" /bin/sh -ec '
  python3 -m venv /opt/dataos
  /opt/dataos/bin/pip install --quiet --no-index --find-links /tmp/wheels "dataos-shell[postgresql]"
  rm -rf /tmp/wheels /root/.cache
  groupadd --gid 10001 dataos
  useradd --uid 10001 --gid 10001 --home-dir /var/lib/dataos --no-create-home dataos
  mkdir -p /var/lib/dataos && chown 10001:10001 /var/lib/dataos'
umount "$work/root/proc"
.venv/bin/python deploy/image/oci.py "$work/root" "$out" --tag "dataos/kernel:$version" --user 10001:10001 \
  --entrypoint '["/opt/dataos/bin/python", "-m", "kernel"]' --cmd '["serve", "--list-targets"]' \
  --env PATH=/opt/dataos/bin:/usr/bin:/bin --env HOME=/tmp --env PYTHONDONTWRITEBYTECODE=1 \
  --workdir /var/lib/dataos --port 8443/tcp
