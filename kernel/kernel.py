"""The kernel: its services wired together, and `call`, the one entry for every syscall.

`call` authenticates the token, validates the request against the syscall table, authorizes
(or lets the handler authorize each object), runs the handler and writes the audit record.
One kernel owns a state directory at a time: a lock file keeps a second one out.
"""
from __future__ import annotations

import fcntl
import getpass
import json
import logging
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from syscalls import __version__
from syscalls.errors import SyscallError
from syscalls.locations import TOKEN_HANDOFF
from syscalls.table import TABLE, lookup

from . import audit as audit_mod
from . import extensions
from .call import Call
from .faults import fault
from .heimdall import syscalls as heimdall_syscalls
from .heimdall.builtin import BUILTIN_POLICIES, OPERATOR_ROLE
from .heimdall.service import SECRET_TYPES, Heimdall
from .names import sanitize
from .poros import syscalls as poros_syscalls
from .caretaker import Caretaker
from .depot import syscalls as depot_syscalls
from .depot.registry import Depots, build as build_depot
from .depot.writes import Uploads
from .metis import syscalls as metis_syscalls
from .metis.schedule import WORKSPACE as SCAN_WORKSPACE
from .metis.schedule import scan_workflow, workflow_name
from .metis.service import Metis
from .logs import REQUEST
from .metrics import UNKNOWN, Syscalls
from .minerva.clusters import Clusters, default_cluster
from .gateway import syscalls as gateway_syscalls
from .gateway.service import Gateway
from .cloud import make_driver
from .poros import runtime_syscalls
from .poros.reconcile import Reconciler
from .poros.reconcile.state import RuntimeState
from .poros.store import WORKLOAD_TYPES, Poros, tags_of_path
from . import stacks
from .store import Place, now

log = logging.getLogger("dataos.kernel")
BOOTSTRAP_KEY = "bootstrap"  # the first operator's first key
DATABASE_VARIABLE = "DATAOS_DATABASE"  # postgresql://…: the services' state in PostgreSQL


class Kernel:
    def __init__(self, state_dir: str | Path, *, operator: str | None = None, handoff: bool = True,
                 workloads: bool = True, url: str | None = None, cloud: dict[str, Any] | None = None,
                 database: str | None = None) -> None:
        """Open (or create) the kernel state in `state_dir`. On first start an operator user is
        made; with `handoff`, its token is left in `operator.token` for the client that started
        us (deleted as soon as that token is first used). With `workloads`, the reconcilers run
        (in a thread); `url` is how pods reach this kernel (the daemon's socket). `cloud` picks the
        cloud driver (see `kernel.cloud.make_driver`) and is remembered in `cloud.json`. `database`
        (else $DATAOS_DATABASE), a ``postgresql://`` URL, holds the services' state instead of SQLite
        files in `state_dir`."""
        self.state_dir = Path(state_dir).expanduser().resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = _lock(self.state_dir / "kernel.lock")
        self.started = now()
        extensions.load()  # kernel plugins' stacks and depot drivers, before any resource is read
        self.place = Place(self.state_dir, self._database(database or os.environ.get(DATABASE_VARIABLE) or None))
        self.heimdall = Heimdall(self.place)
        self.poros = Poros(self.place, admit={"policy": _admit_policy, "depot": build_depot,
                                                                **{t: stacks.admit for t in WORKLOAD_TYPES}},
                           seal={t: self.heimdall.seal_secret for t in SECRET_TYPES})
        self.audit = audit_mod.Audit(self.place)
        self.metrics = Syscalls()
        self.url = url
        self.clock = lambda: datetime.now(timezone.utc)  # schedules read time here (tests move it)
        self.cloud = make_driver(self.state_dir, cloud or self._stored_cloud(), hidden=self._private_paths,
                                 socket=url.removeprefix("unix://") if url and url.startswith("unix://") else None)
        if cloud is not None:  # remembered once it works
            (self.state_dir / "cloud.json").write_text(json.dumps(cloud))
        self.caretaker = Caretaker(self.place)
        self.lease = self.place.lease("reconciler")  # one replica reconciles and runs schedules
        self.runtime_state = RuntimeState(self.place)
        self.reconciler = Reconciler(self)
        self.depots = Depots()
        self.clusters = Clusters(self.state_dir / "spill")  # queries' spill folders
        self.uploads = Uploads()
        self.metis = Metis(self.place, self.depots)
        self.gateway = Gateway(self.place, self.depots, catalog=self.metis)
        self.metis.governance = self.gateway
        if self.place.url:  # remembered once it works, for the next start (which may be on demand)
            _write_private(self.state_dir / "database.json", json.dumps({"url": self.place.url}))
        self.handlers: dict[str, Callable[..., Any]] = {
            **heimdall_syscalls.HANDLERS, **poros_syscalls.HANDLERS, **runtime_syscalls.HANDLERS,
            **gateway_syscalls.HANDLERS, **depot_syscalls.HANDLERS, **metis_syscalls.HANDLERS,
            "kernel.info": self._info, "audit.list": self._audit_list,
        }
        self._held: dict[str, dict[str, Any]] = {}  # resources whose effects this process holds, by uid
        self._resyncing = threading.Lock()
        self._handoff = self.state_dir / TOKEN_HANDOFF
        self._bootstrap(operator or sanitize(getpass.getuser()), handoff)
        self.poros.db.on_change(self._resync)  # heard before the list is read: no write falls between
        with self._resyncing:
            self._synced = self.poros.db.version()  # the resources' writes this process holds (read first)
            resources = self.poros.list()
            for resource in resources:
                self._activate(resource)
                self._held[resource["status"]["uid"]] = resource
        self.runtime_state.db.on_change(self.reconciler.wake)  # a run another replica started
        self.metis.catch_up(resources)  # what an apply or delete could not write to the catalog
        for resource in resources:
            if resource["type"] == "depot":
                self._effect("scan schedule", resource, lambda r=resource: self._schedule_scans(r))
        for resource in self.poros.list("workflow"):
            self.metis.track(resource)
        if workloads:
            self.reconciler.start()

    # --- the syscall entry ------------------------------------------------------------------

    def call(self, token: str | None, name: str, request: dict[str, Any] | Callable[[], Any] | None = None) -> Any:
        """Run syscall `name` for the holder of `token`. `request` may be a function that reads it
        (a transport's body): it is called only once the token is good."""
        started = time.perf_counter_ns()
        user: str | None = None
        call: Call | None = None
        errno = None
        try:
            spec = lookup(name)
            handler = self.handlers.get(name)
            if handler is None:
                raise SyscallError("ENOSYS", f"{name} is not supported by this kernel")
            caller = self.heimdall.authenticate(token)
            user = caller.id
            if self.place.url:
                self._catch_up()
            if caller.key == BOOTSTRAP_KEY:
                self._handoff.unlink(missing_ok=True)  # the client has it now
            args = spec.decode(request() if callable(request) else request)
            self.audit.admit()  # the call's record will fit, or it does nothing (ENOSPC)
            call = Call(self, caller, spec)
            if spec.predicate is not None:
                call.authorize(spec.predicate, spec.object_for(args, caller.id))
            result = handler(call, **args)
            if call.decisions == 0 and result and not spec.stream:  # streams check each item
                raise RuntimeError(f"{name} returned data without an access decision")
            return self._streamed(name, result) if spec.stream else result
        except SyscallError as e:
            errno = e.code
            raise
        except Exception as e:
            error = self._failure(name, e)
            errno = error.code
            raise error from None
        finally:
            taken = call.decision if call is not None else None  # the denial, else the first allow
            taken_ns = time.perf_counter_ns() - started
            self.audit.record(user, name, call.object if call else None,
                              "none" if taken is None else "allow" if taken.allow else "deny",
                              taken.policy if taken else None, errno, taken_ns // 1000)
            self.metrics.observe(name if name in self.handlers else UNKNOWN, errno, taken_ns / 1e9)

    def _streamed(self, name: str, items: Iterator[Any]) -> Iterator[Any]:
        """A stream's items, a failure part-way an errno like any call's (EIO for a bug), on
        every transport."""
        try:
            yield from items
        except SyscallError:
            raise
        except Exception as e:
            raise self._failure(name, e) from None

    def _failure(self, name: str, error: Exception) -> SyscallError:
        """What a call's unexpected exception answers: ENOSPC/ENOMEM for a full disk or memory run
        out (no bug: logged in a line), else EIO (a bug: logged with its traceback)."""
        machine = fault(error, self.state_dir)
        if machine is not None:
            log.warning("syscall %s: %s", name, machine.message)
            return machine
        log.error("syscall %s failed", name, exc_info=error)
        request = REQUEST.get()
        return SyscallError("EIO", f"{name}: internal error ({type(error).__name__}"
                            + (f", request {request}" if request else "") + "); see `dataos kernel logs`")

    # --- hooks from Poros: the policy "reconciler" ------------------------------------------

    def _activate(self, resource: dict[str, Any]) -> None:
        """Check a stored resource as an apply would, and build what a policy, depot or cluster
        drives. One that no longer passes (a depot whose driver a removed plugin provided, a stack
        that is gone, a policy an upgrade reads differently) is marked `error` with the reason, and
        the kernel goes on with everything else."""
        status = resource["status"]
        try:
            self.poros.check(resource)
            if resource["type"] == "policy":
                self.heimdall.load(resource)
                self.gateway.load(resource)
            elif resource["type"] == "depot":
                self._load_depot(resource)
            elif resource["type"] == "cluster":
                self.clusters.load(resource)
        except Exception as e:  # noqa: BLE001 — one bad resource must not stop the kernel
            if resource["type"] == "policy":
                self.gateway.quarantine(resource)  # a data policy fails closed
            reason = e.message if isinstance(e, SyscallError) else f"{type(e).__name__}: {e}"
            log.error("%s %s does not load: %s", resource["type"], resource["name"], reason)
            fields: dict[str, Any] = {"aggregateStatus": "error", "error": reason}
        else:
            if status.get("aggregateStatus") != "error":
                return
            fields = {"aggregateStatus": "active", "error": None}
        self._effect("status", resource, lambda: self.poros.set_status(status["uid"], fields))

    def _effect(self, what: str, resource: dict[str, Any], effect: Callable[[], Any]) -> None:
        """Run an effect of a committed apply or delete beyond Poros. It cannot undo or unanswer the
        change: one that fails (a full disk, the cloud down) is logged, and the next start (the
        catalog, scan schedules) or the reconciler (pods) catches up."""
        try:
            effect()
        except Exception as e:  # noqa: BLE001
            log.warning("%s %s: %s not updated (%s); caught up later", resource["type"], resource["name"], what, e)

    def applied(self, resource: dict[str, Any]) -> None:
        self._take(resource)
        self._effect("catalog entry", resource, lambda: self.metis.resource_applied(resource))
        if resource["type"] == "depot":
            self.metis.scan_later(resource["name"], resource.get("owner") or "system")  # its first scan
            self._effect("scan schedule", resource, lambda: self._schedule_scans(resource))
        self.reconciler.wake()

    def deleted(self, resource: dict[str, Any]) -> None:
        self._forget(resource)
        if resource["type"] == "depot":
            by = resource.get("owner") or "system"
            self._effect("catalog", resource, lambda: self.metis.forget_depot(resource["name"], by))
            self._effect("scan schedule", resource,
                         lambda: self._schedule_scans({**resource, "depot": {**resource["depot"], "scan": None}}))
        self._effect("catalog entry", resource, lambda: self.metis.resource_deleted(resource))
        self._effect("pods", resource, lambda: self.reconciler.teardown(resource))

    # --- what this process holds in memory of the resources -------------------------------------

    def _take(self, resource: dict[str, Any]) -> None:
        """Build in memory what an applied resource drives (a policy, a depot, a cluster)."""
        self._activate(resource)
        if resource["type"] == "policy":
            self.metis.policies_changed()
        elif resource["type"] == "instance-secret":
            self._reload_depots(resource["name"])
        self._held[resource["status"]["uid"]] = resource

    def _forget(self, resource: dict[str, Any]) -> None:
        """Drop from memory what a deleted resource drove."""
        if resource["type"] == "policy":
            self.heimdall.unload(resource)
            self.gateway.unload(resource["name"])
            self.metis.policies_changed()
        elif resource["type"] == "depot":
            self.depots.unload(resource["name"])
        elif resource["type"] == "cluster":
            self.clusters.unload(resource)
        elif resource["type"] == "instance-secret":
            self._reload_depots(resource["name"])
        elif resource["type"] == "workflow":
            self.metis.untrack(resource)
        self._held.pop(resource["status"]["uid"], None)

    def _catch_up(self) -> None:
        """Before a call is authorized: resources another replica wrote, not heard of yet, are
        held now (a policy applied or deleted there a moment ago decides this call too)."""
        if self.poros.db.version() != self._synced:
            self._resync()

    def _resync(self) -> None:
        """Another replica applied or deleted resources: hold in memory what they drive, as it does.
        The writes beyond memory (the catalog, schedules, pods) were that replica's to make."""
        with self._resyncing:
            self._synced = self.poros.db.version()  # read first: a write after it is caught next time
            current = {r["status"]["uid"]: r for r in self.poros.list()}
            for uid, resource in current.items():
                held = self._held.get(uid)
                if held is None or held["status"]["generation"] != resource["status"]["generation"]:
                    self._take(resource)
                    if resource["type"] == "workflow":  # its sql jobs, to redo their lineage after scans here
                        self.metis.track(resource)  # (the applying replica's resource_applied did)
            for uid in set(self._held) - set(current):
                self._forget(self._held[uid])
        self.poros.bump()  # watches on this replica see the change
        self.reconciler.wake()

    # --- kernel.* and audit.* ---------------------------------------------------------------

    def _info(self, call: Call) -> dict[str, Any]:
        return {"version": __version__, "pid": os.getpid(), "started": self.started,
                "state_dir": str(self.state_dir), "cloud": self.cloud.name, "database": self.place.shown(),
                "replica": self.place.replica, "leader": self.lease.held(),
                "syscalls": len(TABLE),
                "plugins": extensions.load()}

    def _audit_list(self, call: Call, **filters: Any) -> list[dict[str, Any]]:
        return self.audit.list(**filters)

    # --- first start ------------------------------------------------------------------------

    def _database(self, given: str | None) -> str | None:
        """The services' database: `given` ("local": SQLite again), else the one remembered."""
        remembered = self.state_dir / "database.json"
        if given == "local":
            remembered.unlink(missing_ok=True)
            return None
        if given is not None:
            if not given.startswith(("postgresql://", "postgres://")):
                raise SyscallError("EINVAL", "database: a postgresql:// URL, or local (SQLite files in the state "
                                             "directory)", field="database")
            return given
        return json.loads(remembered.read_text())["url"] if remembered.exists() else None

    def _stored_cloud(self) -> dict[str, Any]:
        path = self.state_dir / "cloud.json"
        return json.loads(path.read_text()) if path.exists() else {"driver": "local"}

    def _load_depot(self, resource: dict[str, Any]) -> None:
        """Build a depot's driver with the values of the instance-secrets it names."""
        self.depots.load(resource, self._depot_credentials(resource))

    def _depot_credentials(self, resource: dict[str, Any]) -> dict[str, str]:
        credentials: dict[str, str] = {}
        for ref in resource["depot"].get("secrets") or []:
            secret = self.poros.find("instance-secret", ref["name"], None)
            if secret is None:
                log.warning("depot %s: no instance-secret %r", resource["name"], ref["name"])
                continue
            values = self.heimdall.open_secret(secret)
            credentials.update({k: v for k, v in values.items() if not ref.get("keys") or k in ref["keys"]})
        return credentials

    def pending_depots(self, resources: list[dict[str, Any]]) -> Depots:
        """The drivers of depots an apply is about to store (to check the policies applied with
        them against their datasets), apart from the kernel's own."""
        depots = Depots()
        for resource in resources:
            depots.load(resource, self._depot_credentials(resource))
        return depots

    def _schedule_scans(self, depot: dict[str, Any]) -> None:
        """Keep the depot's `scan-DEPOT` workflow in step with its `scan.cron` (see metis/schedule.py)."""
        wanted = scan_workflow(depot)
        current = self.poros.find("workflow", workflow_name(depot["name"]), SCAN_WORKSPACE)
        if wanted is not None:
            plans = [p for p in self.poros.plan([wanted], None) if p.action != "unchanged"]
            for resource in self.poros.apply(plans, depot.get("owner") or "system"):
                self.applied(resource)
        elif current is not None:
            self.deleted(self.poros.delete("workflow", current["name"], SCAN_WORKSPACE, "system"))

    def _reload_depots(self, secret: str) -> None:
        """An instance-secret changed: the depots that name it reconnect with its new values."""
        for resource in self.poros.list("depot"):
            if any(ref["name"] == secret for ref in resource["depot"].get("secrets") or []):
                self._activate(resource)

    def check_placement(self, workspace: str) -> None:
        """EINVAL now, not at run time, when the cloud could not place a workspace's pods (on
        Kubernetes: the workspace's namespace name must be a DNS label)."""
        namespace = getattr(self.cloud, "namespace", None)
        if namespace is not None:
            from .cloud.kubernetes import check_names
            try:
                check_names({}, namespace=namespace(workspace))
            except SyscallError as e:
                raise SyscallError("EINVAL", f"workspace: {e.message}", field="workspace") from None

    def unsandboxed(self, run_as: str) -> str | None:
        """Why pods of `run_as` may not run here, if they may not: without a sandbox (no usable
        bubblewrap), a pod could read everything the kernel's OS user can, so only the kernel's own
        operator's workloads run — their own code, like any local script of theirs."""
        if getattr(self.cloud, "sandboxed", True) or run_as == self._operator():
            return None
        return (f"this kernel has no sandbox for pods (bubblewrap is not installed or cannot run here), so it runs "
                f"only the workloads of its operator {self._operator()!r}, not of {run_as!r}; install the Debian "
                f"package bubblewrap")

    def _private_paths(self) -> list[str]:
        """What no pod may see: the kernel's state, the user's dataos config, data, run and log
        folders (credentials, sockets), and every depot's files."""
        from syscalls.locations import Locations
        where = Locations.current()
        return [str(self.state_dir), str(where.config), str(where.data), str(where.run), str(where.logs),
                *self.depots.allowed_directories()]

    def object_tags(self, path: str) -> frozenset[str]:
        return tags_of_path(self.poros, path)

    def session_token(self) -> str:
        """A token for the first operator that lives only in this process's memory: how an
        in-process (embedded) client authenticates without a token on disk."""
        return self.heimdall.identities.session(self._operator())

    def _operator(self) -> str:
        users = self.heimdall.identities.list_users()
        return next((u["id"] for u in sorted(users, key=lambda u: u["created"]) if OPERATOR_ROLE in u["tags"]),
                    users[0]["id"] if users else "")

    def _bootstrap(self, operator: str, handoff: bool) -> None:
        plans = self.poros.plan([*BUILTIN_POLICIES, default_cluster()], None)
        self.poros.apply([p for p in plans if p.action != "unchanged"], "system")  # new, or a new version
        identities = self.heimdall.identities
        if identities.is_empty():
            identities.create_user(operator, "person", [OPERATOR_ROLE], "The first operator, created at first start")
            key = identities.create_key(operator, BOOTSTRAP_KEY, None)
            if handoff:
                _write_private(self._handoff, key["token"] + "\n")
            log.info("created operator user %r", operator)

    def problems(self) -> list[str]:
        """Why this kernel cannot answer calls now (`/readyz`, to anyone: no path, no URL); none: ready."""
        found = []
        for db in (self.heimdall.identities.db, self.poros.db, self.audit.db):
            try:
                db.query("SELECT 1")
            except SyscallError as e:
                found.append(f"{e.code}: {e.message}")
                break  # one database server: once is enough
        try:
            self.audit.admit()
        except SyscallError:  # ENOSPC; /readyz answers anyone: what, not where
            found.append("ENOSPC: the disk is full: no room for the audit records of calls")
        return found

    def close(self) -> None:
        self.reconciler.stop()
        self.lease.close()
        getattr(self.cloud, "close", lambda: None)()
        self.runtime_state.close()
        self.caretaker.close()
        self.gateway.close()
        self.metis.close()
        self.audit.close()
        self.poros.close()
        self.heimdall.close()
        self._lock.close()


def _admit_policy(manifest: dict[str, Any]) -> None:
    Heimdall.admit(manifest)
    Gateway.admit(manifest)


def _lock(path: Path):
    """Hold an exclusive lock on the state directory for the kernel's lifetime."""
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        owner = f.read().strip() or "another process"
        f.close()
        raise SyscallError("EUNAVAIL", f"kernel state {path.parent} is in use by {owner}") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()}\n")
    f.flush()
    return f


def _write_private(path: Path, text: str) -> None:
    """`text` in a file only this user may read (a token, a password)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
