"""The service and worker controller: `replicas` long-running pods, each restarted with
exponential backoff when it exits, and replaced one at a time when a new generation is applied
(a rolling update: the next replica is replaced once the new one runs)."""
from __future__ import annotations

from typing import Any

from syscalls.errors import SyscallError

from ...cloud import RUNNING, TERMINAL, UNKNOWN
from . import Controller, backoff, monotonic, pod_name

HEALTHY_AFTER = 60.0  # seconds of running after which a replica's restart count starts over


class Services(Controller):
    source = "service-controller"

    def reconcile(self, resource: dict[str, Any]) -> None:
        status = resource["status"]
        uid, generation = status["uid"], status["generation"]
        section = resource[resource["type"]]
        desired = 0 if status.get("paused") else section.get("replicas", 1)
        state = self.kernel.runtime_state
        slots = state.replicas(uid)
        phases = {slot: self._phase(row) for slot, row in slots.items()}
        for slot in sorted(set(slots) - set(range(desired))):  # scale down
            self._stop(slots[slot])
            state.drop_replica(uid, slot)
            self.note(resource, "Normal", "ScaledDown", f"replica {slot} removed"
                      + (f" (pod {slots[slot]['pod']})" if slots[slot]["pod"] else ""))
        rolling = False
        for slot in range(desired):
            row = slots.get(slot) or {"uid": uid, "slot": slot, "generation": generation, "launches": 0,
                                      "restarts": 0, "pod": None, "not_before": 0.0}
            phase = phases.get(slot)
            if row["pod"] and phase in TERMINAL | {UNKNOWN}:  # crashed (or lost): restart after a backoff
                delay = backoff(row["restarts"] + 1)
                self.note(resource, "Warning", "BackOff", f"replica {slot}: pod {row['pod']} ended ({phase}); "
                          f"restart {row['restarts'] + 1} in {delay:g}s")
                row.update(pod=None, restarts=row["restarts"] + 1, not_before=monotonic() + delay)
                state.put_replica(row)
            elif row["pod"] and row["generation"] < generation and not rolling:
                if all(p == RUNNING for s, p in phases.items() if s != slot and s < desired):
                    self._stop(row)  # rolling update: this replica now, the next once this one runs
                    self.note(resource, "Normal", "Rolling", f"replica {slot}: pod {row['pod']} replaced for "
                              f"generation {generation}")
                    row.update(pod=None, generation=generation, restarts=0, not_before=0.0)
                    state.put_replica(row)
                rolling = True
            if row["pod"] is None and monotonic() >= row["not_before"]:
                row["launches"] += 1
                row["generation"] = generation
                row["pod"] = pod_name(resource["name"], slot, uid[:8], row["launches"])
                state.put_replica(row)  # recorded first, then started
                manifest = self.kernel.poros.generation(uid, generation)
                self.r.launch(resource, row["pod"], manifest[resource["type"]],
                              {"dataos.io/replica": str(slot)}, generation)
            elif row["pod"] and phase == RUNNING and row["restarts"] and self._ran_for(row) > HEALTHY_AFTER:
                row["restarts"] = 0
                state.put_replica(row)
            slots[slot] = row
        self.publish(resource, desired, slots)

    def _phase(self, row: dict[str, Any]) -> str | None:
        if not row["pod"]:
            return None
        try:
            return self.kernel.cloud.status(row["pod"]).phase
        except SyscallError:
            return None

    def _ran_for(self, row: dict[str, Any]) -> float:
        from datetime import datetime, timezone
        started = self.kernel.cloud.status(row["pod"]).started
        if not started:
            return 0.0
        return (datetime.now(timezone.utc) - datetime.fromisoformat(started.replace("Z", "+00:00"))).total_seconds()

    def _stop(self, row: dict[str, Any]) -> None:
        if row["pod"]:
            try:
                self.kernel.cloud.kill(row["pod"], grace=5.0)
            except SyscallError:
                pass

    def publish(self, resource: dict[str, Any], desired: int, slots: dict[int, dict[str, Any]]) -> None:
        status = resource["status"]
        replicas = []
        for slot in range(desired):
            row = slots[slot]
            phase = self._phase(row) if row["pod"] else None
            waiting = max(0.0, row["not_before"] - monotonic())
            replicas.append({"slot": slot, "pod": row["pod"], "phase": phase or ("Backoff" if waiting else "Pending"),
                             "restarts": row["restarts"], "generation": row["generation"]})
        running = sum(r["phase"] == RUNNING for r in replicas)
        backing_off = [r for r in replicas if r["phase"] == "Backoff"]
        message = None
        if backing_off:
            worst = max(backing_off, key=lambda r: r["restarts"])
            message = f"crash loop: replica {worst['slot']} restarted {worst['restarts']} times, backing off"
        runtime = "paused" if status.get("paused") else f"running:{running}"
        fields = {"runtime": runtime, "replicas": replicas, "message": message, "builderState": "built"}
        if any(status.get(k) != v for k, v in fields.items()):
            self.kernel.poros.set_status(status["uid"], fields)


class Deployments(Controller):
    """Services and workers on Kubernetes: a Deployment (and a Service on `servicePort`) that
    Kubernetes keeps at `replicas`, restarting and rolling pods itself. We apply each new
    generation, replica count or pause, and read back how many pods are ready."""
    source = "service-controller"

    def reconcile(self, resource: dict[str, Any]) -> None:
        status = resource["status"]
        section = resource[resource["type"]]
        replicas = 0 if status.get("paused") else section.get("replicas", 1)
        wanted = {"generation": status["generation"], "replicas": replicas}
        cloud = self.kernel.cloud
        if status.get("deployed") != wanted:
            manifest = self.kernel.poros.generation(status["uid"], status["generation"])
            spec = self.r.pod_spec(resource, resource["name"], manifest[resource["type"]], {}, status["generation"])
            cloud.deploy(resource["name"], spec, replicas, section.get("servicePort"))
            self.note(resource, "Normal", "Deployed", f"generation {status['generation']} deployed, {replicas} "
                      "replicas")
            self.kernel.poros.set_status(status["uid"], {"deployed": wanted})
        ready = cloud.deployment_status(resource["name"], resource.get("workspace", ""))
        fields = {"runtime": "paused" if status.get("paused") else f"running:{ready.get('ready') or 0}",
                  "replicas": None, "deployment": ready, "builderState": "built"}
        if any(status.get(k) != v for k, v in fields.items()):
            self.kernel.poros.set_status(status["uid"], fields)

    def teardown(self, resource: dict[str, Any]) -> None:
        try:
            self.kernel.cloud.undeploy(resource["name"], resource.get("workspace", ""))
        except SyscallError:
            pass
