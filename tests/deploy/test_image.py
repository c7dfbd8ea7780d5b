"""The kernel's image, built as scripts/build-image.sh builds it (debootstrap, the wheels, an OCI
archive), then run from its own file system as its own user against the local PostgreSQL.

No container engine runs on the machines this suite runs on (the Docker client is there, its
engine cannot start), so the image's file system is run with bubblewrap instead: the same files,
user, entry point and environment an engine would use. Building needs the Debian mirror and the
package index (it downloads), so it runs only when asked: DATAOS_TEST_IMAGE=1.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from pgkit import pg_database
from proctools import ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.environ.get("DATAOS_TEST_IMAGE") != "1",
                                 reason="builds from the Debian mirror and the package index: DATAOS_TEST_IMAGE=1")]


def blob(archive: tarfile.TarFile, digest: str) -> bytes:
    data = archive.extractfile(f"blobs/sha256/{digest.removeprefix('sha256:')}").read()
    assert hashlib.sha256(data).hexdigest() == digest.removeprefix("sha256:")  # content-addressed
    return data


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("image") / "kernel.oci.tar"
    built = subprocess.run([str(ROOT / "scripts" / "build-image.sh"), str(out)], capture_output=True, text=True,
                           timeout=1800)
    assert built.returncode == 0, built.stderr[-3000:]
    root = out.parent / "root"
    with tarfile.open(out) as archive:
        assert json.loads(archive.extractfile("oci-layout").read()) == {"imageLayoutVersion": "1.0.0"}
        [entry] = json.loads(archive.extractfile("index.json").read())["manifests"]
        manifest = json.loads(blob(archive, entry["digest"]))
        config = json.loads(blob(archive, manifest["config"]["digest"]))
        [layer] = manifest["layers"]
        with tarfile.open(fileobj=__import__("io").BytesIO(blob(archive, layer["digest"])), mode="r:gz") as fs:
            fs.extractall(root, filter="fully_trusted")  # as root: owners and modes as built
    return root, config


def test_the_image_runs_the_kernel_as_its_user_against_postgresql(image):
    root, config = image
    assert config["config"]["User"] == "10001:10001"
    assert config["config"]["Entrypoint"] == ["/opt/dataos/bin/python", "-m", "kernel"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = [x for pair in (("--setenv", *e.split("=", 1)) for e in config["config"]["Env"]) for x in pair]
    with pg_database() as url:
        kernel = subprocess.Popen(
            ["bwrap", "--bind", str(root), "/", "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs",
             "/tmp", "--chdir", config["config"]["WorkingDir"], "--clearenv", *env, "--setenv", "DATAOS_DATABASE", url,
             "--setenv", "DATAOS_LOG_FORMAT", "json",  # as an engine would: the image's user, not root
             "/usr/bin/setpriv", "--reuid", "10001", "--regid", "10001", "--clear-groups",
             *config["config"]["Entrypoint"], "serve", "--target=all", "--state=/var/lib/dataos/state",
             f"--listen=127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        try:
            import httpx
            deadline, ready = time.monotonic() + 60, None
            while time.monotonic() < deadline and kernel.poll() is None:
                try:
                    ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            assert ready is not None and ready.json() == {"ok": True, "problems": []}, kernel.poll()
            info = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
            assert info["ok"] and info["version"] == config["config"]["Labels"][
                "org.opencontainers.image.ref.name"].rsplit(":", 1)[1]
        finally:
            os.killpg(kernel.pid, signal.SIGTERM)  # the kernel, not only bwrap: it stops as it should
            log, _ = kernel.communicate(timeout=30)
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(r["message"].startswith("kernel ") and "serving" in r["message"] for r in records), log[-2000:]
    assert (root / "var" / "lib" / "dataos" / "state").stat().st_uid == 10001  # written as its user
