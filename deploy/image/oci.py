"""Pack a root file system into an OCI image archive (`oci-layout`, one layer), with no engine.

    python deploy/image/oci.py ROOTFS OUT.tar --tag dataos/kernel:0.2.0 --user 10001:10001 \
        --entrypoint '["/opt/dataos/bin/python", "-m", "kernel"]' --cmd '["serve", "--list-targets"]'

`docker load`, `podman load` and `skopeo copy oci-archive:OUT.tar …` take the archive. Entries
are written in name order with fixed times and owners as in ROOTFS, so the same tree gives the
same layer digest.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

EPOCH = 0  # every file's time in the layer: reproducible digests


def layer(rootfs: Path) -> tuple[bytes, str]:
    """The tree as a gzipped tar, in name order, and the uncompressed tar's digest (its diff id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(rootfs.rglob("*"), key=lambda p: p.relative_to(rootfs).as_posix()):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(rootfs).as_posix())
            info.mtime = EPOCH
            info.uname = info.gname = ""
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    return gzip.compress(raw.getvalue(), compresslevel=6, mtime=EPOCH), hashlib.sha256(raw.getvalue()).hexdigest()


def pack(rootfs: Path, out: Path, tag: str, user: str, entrypoint: list[str], cmd: list[str],
         env: list[str], workdir: str, ports: list[str]) -> str:
    """Write the archive; returns the manifest's digest."""
    blob, diff_id = layer(rootfs)
    blobs: dict[str, bytes] = {}

    def add(data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    layer_digest = add(blob)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": {"User": user, "Entrypoint": entrypoint, "Cmd": cmd, "Env": env, "WorkingDir": workdir,
                   "ExposedPorts": {p: {} for p in ports}, "Labels": {"org.opencontainers.image.ref.name": tag}},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "deploy/image/oci.py"}]},
        sort_keys=True).encode()
    config_digest = add(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{config_digest}",
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": f"sha256:{layer_digest}",
                    "size": len(blob)}]}, sort_keys=True).encode()
    manifest_digest = add(manifest)
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": f"sha256:{manifest_digest}",
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": tag,
                                               "io.containerd.image.name": tag}}]}, sort_keys=True).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w") as tar:
        def put(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), EPOCH, 0o644
            tar.addfile(info, io.BytesIO(data))
        put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        put("index.json", index)
        for digest, data in sorted(blobs.items()):
            put(f"blobs/sha256/{digest}", data)
    return f"sha256:{manifest_digest}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rootfs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--user", default="10001:10001")
    parser.add_argument("--entrypoint", type=json.loads, required=True, help="a JSON list")
    parser.add_argument("--cmd", type=json.loads, default=[], help="a JSON list")
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--port", action="append", default=[])
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: the layer keeps the tree's owners and modes")
    digest = pack(args.rootfs, args.out, args.tag, args.user, args.entrypoint, args.cmd, args.env, args.workdir,
                  args.port)
    print(f"{args.out}: {args.tag} {digest}")


if __name__ == "__main__":
    main()
