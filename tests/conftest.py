"""Shared fixtures: temporary DATAOS_HOMEs, the `dataos` console script, and one kernel per
transport (embedded, unix socket daemon, HTTP, HTTPS) for the contract suite.

Every process a fixture starts is stopped on teardown, by pid: the kernel daemons the CLI
starts on demand (found through HOME/run/kernel.pid and, as a safety net, through /proc by
their unique state directory), and the `python -m kernel serve` servers started here.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clitools import DATAOS  # the console script the CLI tests run
from proctools import CLEAN_ENV, ROOT, cli_env, locations_for, stop_home

PYTHON = sys.executable
os.environ["DATAOS_NO_DEMO"] = "1"  # no new kernel installs the demo lakehouse, except in tests/demo


@dataclass
class Runner:
    """`run(*args, input=None, env=None)`: the `dataos` console script in one DATAOS_HOME."""
    home: Path

    def __call__(self, *args: Any, input: str | None = None, env: dict[str, str | None] | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([*DATAOS, *map(str, args)], input=input, env=cli_env(self.home, env),
                              capture_output=True, text=True, timeout=timeout, cwd=self.home.parent)

    @property
    def locations(self):
        return locations_for(self.home)


@pytest.fixture(scope="session")
def _pg_databases() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as databases:  # dropped when the session ends (a module's daemon outlives a test)
        yield databases


@pytest.fixture(autouse=True)
def _on_postgresql(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """With DATAOS_TEST_POSTGRESQL=1, every kernel a test starts keeps its state in a PostgreSQL
    database of the test's own: the suite's tests run on the other backend."""
    if os.environ.get("DATAOS_TEST_POSTGRESQL") == "1":
        from pgkit import pg_database
        databases = request.getfixturevalue("_pg_databases")
        monkeypatch.setenv("DATAOS_DATABASE", databases.enter_context(pg_database()))


@pytest.fixture
def dataos_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh DATAOS_HOME for this test (in the environment); its daemon is stopped afterwards."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DATAOS_HOME", str(home))
    for name in CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)
    try:
        yield home
    finally:
        stop_home(home)


@pytest.fixture
def run_dataos(dataos_home: Path) -> Runner:
    return Runner(dataos_home)


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DATAOS_HOME shared by the tests of one module (one daemon for all of them)."""
    home = tmp_path_factory.mktemp("mhome") / "home"
    home.mkdir()
    try:
        yield home
    finally:
        stop_home(home)


@pytest.fixture(scope="module")
def run_module(module_home: Path) -> Runner:
    return Runner(module_home)


# --- transports for the contract suite -----------------------------------------------------------

@dataclass
class Kernel:
    """One kernel behind one transport: the operator's client and a factory of other clients."""
    name: str
    op: Any
    make_client: Callable[[str | None], Any]
    url: str
    state: Path
    closers: list[Callable[[], None]] = field(default_factory=list)

    def __iter__(self):  # (operator_client, make_client(token))
        return iter((self.op, self.make_client))


@contextlib.contextmanager
def _clean_env() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    for name in CLEAN_ENV:
        mp.delenv(name, raising=False)
    mp.delenv("DATAOS_HOME", raising=False)
    try:
        yield mp
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    import syscalls
    from syscalls.client import Client
    state = tmp_path_factory.mktemp("embedded") / "state"
    with _clean_env():
        op = syscalls.connect(f"embedded://{state}")
    assert op.token, "the embedded kernel handed over no operator token"
    # Every client shares the one in-process kernel (a second Kernel on the state is locked out).
    kernel = Kernel("embedded", op, lambda token: Client(op.transport, token), op.url, state)
    try:
        yield kernel
    finally:
        op.close()


@pytest.fixture(scope="module")
def postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """The embedded kernel with its services' state in a PostgreSQL database of its own."""
    import syscalls
    from syscalls.client import Client
    state = tmp_path_factory.mktemp("postgresql") / "state"
    from pgkit import pg_database
    with pg_database() as url, _clean_env() as mp:
        mp.setenv("DATAOS_DATABASE", url)
        op = syscalls.connect(f"embedded://{state}")
        mp.delenv("DATAOS_DATABASE")  # read once, by that kernel: servers other kernels start must not inherit it
        try:
            yield Kernel("postgresql", op, lambda token: Client(op.transport, token), op.url, state)
        finally:
            op.close()


class Alternating:
    """A transport that sends each call to the next of several kernels in turn: replicas behind a
    load balancer. What one of them wrote, the next must hold."""

    def __init__(self, transports: list[Any]) -> None:
        self.transports, self.url, self._next = transports, "replicas://", 0

    def _pick(self) -> Any:
        self._next = (self._next + 1) % len(self.transports)
        return self.transports[self._next]

    def call(self, name: str, request: dict[str, Any] | None, token: str | None) -> Any:
        return self._pick().call(name, request, token)

    def stream(self, name: str, request: dict[str, Any] | None, token: str | None) -> Iterator[Any]:
        return self._pick().stream(name, request, token)

    def close(self) -> None:
        for transport in self.transports:
            transport.close()


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """Two kernels in this process over one PostgreSQL database (the same keys, state directories
    of their own), the calls of every client alternating between them."""
    from syscalls.client import Client
    from syscalls.transports import Embedded
    from pgkit import pg_database
    root = tmp_path_factory.mktemp("replicas")
    keys = {"vault.key": os.urandom(64), "gateway.key": os.urandom(32)}
    for name in ("a", "b"):
        (root / name / "state").mkdir(parents=True, mode=0o700)
        for key, value in keys.items():
            (root / name / "state" / key).write_bytes(value)
    with pg_database() as url, _clean_env() as mp:
        mp.setenv("DATAOS_DATABASE", url)
        a, b = Embedded(str(root / "a" / "state")), Embedded(str(root / "b" / "state"))
        mp.delenv("DATAOS_DATABASE")
        first = Client(a, a.session_token())  # a memory-only token: a's alone
        token = first.user.apikey.create(user=first.auth.whoami()["id"], name="replicas")["token"]
        transport = Alternating([a, b])
        op = Client(transport, token)
        try:
            yield Kernel("replicas", op, lambda t: Client(transport, t), transport.url, root / "a" / "state")
        finally:
            transport.close()


@pytest.fixture(scope="module")
def unix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    import syscalls
    from syscalls.client import Client
    from syscalls.transports import UnixSocket
    home = tmp_path_factory.mktemp("unix") / "home"
    with _clean_env() as mp:
        mp.setenv("DATAOS_HOME", str(home))
        op = syscalls.connect("local://")  # starts the daemon, takes the operator token
    loc = locations_for(home)
    clients: list[Any] = []

    def make(token: str | None) -> Any:
        c = Client(UnixSocket(loc.socket), token)
        clients.append(c)
        return c

    try:
        yield Kernel("unix", op, make, op.url, loc.state)
    finally:
        for c in [op, *clients]:
            c.close()
        stop_home(home)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (SANs), and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    state: Path
    log: Path


def start_server(directory: Path, tls: tuple[Path, Path] | None = None) -> Server:
    """`python -m kernel serve --listen 127.0.0.1:PORT` (HTTPS with `tls`), healthy, or fail."""
    import httpx
    state, log = directory / "state", directory / "kernel.log"
    scheme = "https" if tls else "http"
    verify: Any = ssl.create_default_context(cafile=str(tls[0])) if tls else True
    for _attempt in range(3):  # a free port can be taken by someone else before we bind it
        port = free_port()
        cmd = [PYTHON, "-m", "kernel", "serve", "--state", str(state), "--listen", f"127.0.0.1:{port}",
               "--pidfile", str(directory / "kernel.pid")]
        if tls:
            cmd += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=ROOT, env=env)
        url = f"{scheme}://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(url + "/healthz", verify=verify, timeout=2)
                if health.status_code == 200 and health.json().get("pid") == proc.pid:  # ours, not another
                    return Server(proc, url, state, log)                                 # test's on that port
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        stop_server(proc)
    raise RuntimeError(f"the kernel server did not start: {log.read_text(errors='replace')[-2000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def kernel_server(tmp_path: Path) -> Iterator[Callable[[], Server]]:
    """Start `python -m kernel serve` on TCP (again, on the same state, after a kill): each server
    started is stopped at the end."""
    started: list[Server] = []

    def start() -> Server:
        started.append(start_server(tmp_path))
        return started[-1]

    with _clean_env():
        yield start
    for server in started:
        stop_server(server.proc)


def _tcp_kernel(directory: Path, tls: tuple[Path, Path] | None, name: str) -> Iterator[Kernel]:
    import syscalls
    server = start_server(directory, tls)
    clients: list[Any] = []
    try:
        token = (server.state / "operator.token").read_text().strip()

        def make(tok: str | None) -> Any:
            c = syscalls.connect(server.url, tok)
            clients.append(c)
            return c

        op = make(token)
        yield Kernel(name, op, make, server.url, server.state)
    finally:
        for c in clients:
            c.close()
        stop_server(server.proc)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with _clean_env():
        yield from _tcp_kernel(tmp_path_factory.mktemp("http"), None, "http")


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory, tls_cert: tuple[Path, Path]) -> Iterator[Kernel]:
    with _clean_env() as mp:
        mp.setenv("SSL_CERT_FILE", str(tls_cert[0]))  # so the client (httpx) trusts our certificate
        yield from _tcp_kernel(tmp_path_factory.mktemp("https"), tls_cert, "https")
