"""The workflow controller: runs of a DAG of jobs, with retries, progress and a result.

Each new generation of an unscheduled workflow starts one run (`runtime rerun` another). A
job starts once all its dependencies succeeded; a failed attempt is retried while `retry.count`
allows and its `strategy` matches (OnFailure: the command failed; OnError: the pod was lost;
Always: both). The run fails once a job has failed for good and nothing else is running.

While the cloud is unavailable (EUNAVAIL, ETIMEDOUT) or the disk full (ENOSPC) a job's pod is
neither started nor given up: it waits, and is tried again after 1 s, 2 s, 4 s … 30 s.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from syscalls.errors import SyscallError

from ...cloud import FAILED, RUNNING, STOPPED, SUCCEEDED, UNKNOWN
from ...clock import iso
from . import OUTAGE_BACKOFF, UNAVAILABLE, Controller, backoff, log, monotonic, pod_name

DONE = ("succeeded", "failed", "unstartable")
RETRY_ON = {"OnFailure": {"failed"}, "OnError": {"lost"}, "Always": {"failed", "lost"}}


class _Wait(NamedTuple):
    uid: str
    tries: int
    due: float  # monotonic time of the next try
    reason: str  # the error that began the wait


class Workflows(Controller):
    source = "workflow-controller"

    def __init__(self, reconciler: Any) -> None:
        super().__init__(reconciler)
        self._waits: dict[str, _Wait] = {}  # pod -> its wait for an unavailable cloud

    def teardown(self, resource: dict[str, Any]) -> None:
        self._waits = {pod: w for pod, w in self._waits.items() if w.uid != resource["status"]["uid"]}

    def reconcile(self, resource: dict[str, Any]) -> None:
        status = resource["status"]
        uid, generation = status["uid"], status["generation"]
        state = self.kernel.runtime_state
        schedule = resource["workflow"].get("schedule")
        latest = state.latest_run(uid)
        published = status.get("run") or {}
        if schedule is None and latest and latest["finished"] and latest["generation"] == generation \
                and published.get("id") == latest["run"] and published.get("state") == latest["state"] \
                and (status.get("runtime") == "paused") == bool(status.get("paused")):
            return  # done, and the status says so: nothing to do until something changes
        if status.get("paused"):
            pass
        elif schedule is not None:
            self._schedule(resource, schedule)
        elif latest is None or (latest["generation"] < generation and latest["finished"]):
            run = state.new_run(uid, generation, "apply")
            self.note(resource, "Normal", "RunStarted", f"run {run['run']} of generation {generation} started")
        for run in state.active_runs(uid):
            self.advance(resource, run)
        self.publish(resource, state.latest_run(uid), self._next(resource, schedule) if schedule else None)

    # --- schedules ----------------------------------------------------------------------------

    def _schedule(self, resource: dict[str, Any], schedule: dict[str, Any]) -> None:
        """Start the run that is due (one, however many fire times the daemon slept through)."""
        status = resource["status"]
        uid = status["uid"]
        state = self.kernel.runtime_state
        now = self.kernel.clock()
        due = self._due(resource, schedule, now)
        if due is None:
            return
        active = state.active_runs(uid)
        policy = schedule.get("concurrencyPolicy", "Allow")
        if active and policy == "Forbid":
            state.new_run(uid, status["generation"], "schedule", iso(due), state="skipped")
            self.note(resource, "Normal", "Skipped", f"the run due {iso(due)} skipped: run {active[-1]['run']} "
                      "still runs (concurrencyPolicy Forbid)")
            return
        if active and policy == "Replace":
            for run in active:
                self.abort(resource, run)
        run = state.new_run(uid, status["generation"], "schedule", iso(due))
        self.note(resource, "Normal", "Scheduled", f"run {run['run']} started, due {iso(due)}")

    def _due(self, resource: dict[str, Any], schedule: dict[str, Any], now: datetime) -> datetime | None:
        from croniter import croniter
        tz = ZoneInfo(schedule.get("timezone") or "UTC")
        last = self.kernel.runtime_state.last_scheduled(resource["status"]["uid"]) or resource["status"]["created"]
        since = _time(last).astimezone(tz)
        if croniter(schedule["cron"], since).get_next(datetime) > now:
            return None
        due = croniter(schedule["cron"], now.astimezone(tz)).get_prev(datetime)
        end = schedule.get("endOn")
        if end and due > _time(end):
            return None
        return due if due > since else None

    def _next(self, resource: dict[str, Any], schedule: dict[str, Any]) -> str | None:
        from croniter import croniter
        tz = ZoneInfo(schedule.get("timezone") or "UTC")
        next_time = croniter(schedule["cron"], self.kernel.clock().astimezone(tz)).get_next(datetime)
        end = schedule.get("endOn")
        return None if end and next_time > _time(end) else iso(next_time)

    def abort(self, resource: dict[str, Any], run: dict[str, Any]) -> None:
        """Stop a run: kill its pods, mark it aborted."""
        uid = resource["status"]["uid"]
        for rows in self.kernel.runtime_state.attempts(uid, run["run"]).values():
            if rows[-1]["state"] in ("pending", "running"):
                try:
                    self.kernel.cloud.kill(rows[-1]["pod"])
                except SyscallError:
                    pass
                self.kernel.runtime_state.set_attempt(rows[-1]["pod"], "aborted", None)
                self._waits.pop(rows[-1]["pod"], None)
        self.kernel.runtime_state.finish_run(uid, run["run"], "aborted")
        self.note(resource, "Normal", "RunAborted", f"run {run['run']} aborted")

    def advance(self, resource: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
        uid, number = resource["status"]["uid"], run["run"]
        state = self.kernel.runtime_state
        manifest = self.kernel.poros.generation(uid, run["generation"])
        dag = manifest["workflow"]["dag"]
        attempts = state.attempts(uid, number)
        outcome = {}
        for job in dag:
            rows = attempts.get(job["name"], [])
            if rows and rows[-1]["state"] not in DONE:
                self._observe(resource, run, job, rows[-1])
            outcome[job["name"]] = self._outcome(job, rows)
        failing = any(o == "failed" for o in outcome.values())
        for job in dag:
            name = job["name"]
            rows = attempts.get(name, [])
            if failing:
                continue  # a run that has failed starts nothing more
            ready = outcome[name] == "retry" or (outcome[name] == "waiting" and
                                                 all(outcome[d] == "succeeded" for d in job.get("dependencies", [])))
            if ready and self.r.may_launch():
                attempt = len(rows) + 1
                pod = pod_name(resource["name"], name, resource["status"]["uid"][:8], number, attempt)
                if rows:
                    self.note(resource, "Warning", "Retry", f"job {name}: attempt {attempt} of run {number} "
                              f"(attempt {len(rows)} {rows[-1]['state']}, exit code {rows[-1]['exit_code']})")
                state.add_attempt(uid, number, name, attempt, pod)  # recorded first: exactly once
                if self._start(resource, run, job, pod) == "unstartable":
                    outcome[name] = "failed"
                    failing = True
                    continue
                outcome[name] = "running"
        busy = any(o == "running" for o in outcome.values())
        if all(o == "succeeded" for o in outcome.values()):
            state.finish_run(uid, number, "succeeded")
            self.note(resource, "Normal", "RunSucceeded", f"run {number} succeeded")
        elif failing and not busy:
            state.finish_run(uid, number, "failed")
            self.note(resource, "Warning", "RunFailed", f"run {number} failed: {_failure(outcome, attempts)}")
        return state.latest_run(uid) or run

    def _observe(self, resource: dict[str, Any], run: dict[str, Any], job: dict[str, Any],
                 attempt: dict[str, Any]) -> None:
        """Bring one attempt's state up to date with its pod; start it if it was never started
        (the daemon died in between, or the cloud was unavailable)."""
        wait = self._waits.get(attempt["pod"])
        if wait is not None and monotonic() < wait.due:
            return
        try:
            pod = self.kernel.cloud.status(attempt["pod"])
        except SyscallError as e:
            if e.code in UNAVAILABLE:
                self._wait(resource, attempt["pod"], e)
            else:
                attempt["state"] = self._start(resource, run, job, attempt["pod"])
            return
        self._waits.pop(attempt["pod"], None)
        state, code = {SUCCEEDED: ("succeeded", pod.exit_code), FAILED: ("failed", pod.exit_code),
                       STOPPED: ("failed", pod.exit_code),  # stopped by `pod.kill`: the job did not finish
                       UNKNOWN: ("lost", pod.exit_code), RUNNING: ("running", None)}.get(pod.phase,
                                                                                 (attempt["state"], None))
        if state != attempt["state"]:
            self.kernel.runtime_state.set_attempt(attempt["pod"], state, code)
        attempt.update(state=state, exit_code=code)

    def _start(self, resource: dict[str, Any], run: dict[str, Any], job: dict[str, Any], pod: str) -> str:
        """Start a job's pod (recorded already): `running`, `pending` (the cloud is unavailable:
        it waits), or `unstartable` (e.g. a secret it names was deleted since the apply)."""
        try:
            self.r.launch(resource, pod, job["spec"], {"dataos.io/job": job["name"], "dataos.io/run": str(run["run"])},
                          run["generation"])
        except SyscallError as e:
            if e.code in UNAVAILABLE:
                self._wait(resource, pod, e)
                return "pending"
            log.warning("%s: job %s cannot start: %s", resource["name"], job["name"], e)
            self.note(resource, "Warning", "FailedCreate", f"job {job['name']} cannot start pod {pod}: {e.message}")
            self._waits.pop(pod, None)
            self.kernel.runtime_state.set_attempt(pod, "unstartable", None)
            return "unstartable"
        self._waits.pop(pod, None)
        self.kernel.runtime_state.set_attempt(pod, "running", None)
        return "running"

    def _wait(self, resource: dict[str, Any], pod: str, error: SyscallError) -> None:
        """The cloud could not be reached about `pod`: try again later, backing off."""
        wait = self._waits.get(pod)
        if wait is None:
            self.note(resource, "Warning", "CloudUnavailable", f"pod {pod} waits for the cloud: {error.message}")
        tries = wait.tries + 1 if wait else 1
        self._waits[pod] = _Wait(resource["status"]["uid"], tries, monotonic() + backoff(tries, OUTAGE_BACKOFF),
                                 wait.reason if wait else error.message)

    @staticmethod
    def _outcome(job: dict[str, Any], rows: list[dict[str, Any]]) -> str:
        """waiting | running | retry | succeeded | failed, for one job of a run."""
        if not rows:
            return "waiting"
        last = rows[-1]["state"]
        if last in ("pending", "running"):
            return "running"
        if last == "succeeded":
            return "succeeded"
        if last == "unstartable":
            return "failed"
        retry = job.get("retry") or {}
        if len(rows) <= retry.get("count", 0) and last in RETRY_ON[retry.get("strategy", "OnFailure")]:
            return "retry"
        return "failed"

    def publish(self, resource: dict[str, Any], run: dict[str, Any] | None, next_time: str | None) -> None:
        """Write the runtime into the resource's status (only when it changed)."""
        status = resource["status"]
        idle = f"next:{next_time}" if next_time else "pending"
        if run is None:
            fields = {"runtime": "paused" if status.get("paused") else idle, "progress": None, "run": None}
        else:
            manifest = self.kernel.poros.generation(status["uid"], run["generation"])
            attempts = self.kernel.runtime_state.attempts(status["uid"], run["run"])
            jobs = []
            for job in manifest["workflow"]["dag"]:
                rows = attempts.get(job["name"], [])
                last = rows[-1] if rows else None
                jobs.append({"name": job["name"], "state": last["state"] if last else "waiting",
                             "attempts": len(rows), "pod": last["pod"] if last else None,
                             "exitCode": last["exit_code"] if last else None})
            done = sum(j["state"] == "succeeded" for j in jobs)
            started = any(j["state"] not in ("waiting", "pending") for j in jobs)
            runtime = run["state"] if run["finished"] else ("running" if started else "pending")
            if run["finished"] and next_time and not status.get("paused"):
                runtime = f"next:{next_time}"
            elif status.get("paused") and run["finished"]:
                runtime = "paused"
            fields = {"runtime": runtime, "progress": f"{done}/{len(jobs)}",
                      "run": {"id": run["run"], "generation": run["generation"], "trigger": run["trigger"],
                              "state": run["state"], "started": run["created"], "finished": run["finished"],
                              "jobs": jobs, "message": self._message(jobs) if run["state"] == "failed"
                              else self._waiting(jobs)}}
        fields["builderState"] = "built"
        if any(status.get(k) != v for k, v in fields.items()):
            self.kernel.poros.set_status(status["uid"], fields)

    def _message(self, jobs: list[dict[str, Any]]) -> str | None:
        """Why a run failed: the job, its pod, exit code and reason. Never its output: the status is
        shown to every reader, the output only through `pod.logs`, masked."""
        for job in jobs:
            if job["state"] == "unstartable":
                return f"job {job['name']} could not start (see `dataos kernel logs`)"
            if job["state"] in ("failed", "lost") and job["pod"]:
                try:
                    reason = self.kernel.caretaker.get(job["pod"])["reason"]
                except SyscallError:
                    reason = None
                return (f"job {job['name']} {job['state']} (pod {job['pod']}, exit code {job['exitCode']}"
                        + (f", {reason})" if reason else ")"))
        return None

    def _waiting(self, jobs: list[dict[str, Any]]) -> str | None:
        """Why a job has not started, while the cloud is unavailable."""
        for job in jobs:
            wait = self._waits.get(job["pod"]) if job["state"] == "pending" else None
            if wait is not None:
                return f"job {job['name']} waits for the cloud to start it ({wait.reason}); retrying"
        return None


def _failure(outcome: dict[str, str], attempts: dict[str, list[dict[str, Any]]]) -> str:
    """Which job failed a run, and how."""
    job = next(name for name, o in outcome.items() if o == "failed")
    last = attempts[job][-1] if attempts.get(job) else None
    if last is None or last["state"] == "unstartable":
        return f"job {job} could not start"
    return f"job {job} {last['state']} (pod {last['pod']}, exit code {last['exit_code']})"


def _time(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
