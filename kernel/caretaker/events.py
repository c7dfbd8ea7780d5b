"""Events as kubectl tells them: TYPE (Normal or Warning), REASON, FROM and a MESSAGE that says
what happened — a pod's phase transitions (with the exit code and the reason of an end), and
what the controllers noted about a resource."""
from __future__ import annotations

from typing import Any

SOURCE = "caretaker"
GENERIC = frozenset({None, "", "Error", "Completed", "Stopped"})  # an end's reason that says no more than its phase


def pod_events(transitions: list[dict[str, Any]], jobs: dict[str, str | None]) -> list[dict[str, Any]]:
    """Events of rows of the `events` table (oldest first); `jobs` names each pod's job, if any."""
    out = []
    for t in transitions:
        pod, job = t["pod"], jobs.get(t["pod"])
        if t["previous"] is None:
            out.append(_event(t, "Normal", "Created", f"created pod {pod}" + (f" for job {job}" if job else "")))
        told = _phase(t, pod)
        if told is not None:
            out.append(_event(t, *told))
    return out


def note_event(note: dict[str, Any]) -> dict[str, Any]:
    """A row of the `notes` table as an event of the resource it is about."""
    return {"time": note["time"], "object": note["resource"].split("/", 1)[1], "type": note["type"],
            "reason": note["reason"], "source": note["source"], "message": note["message"]}


def _phase(t: dict[str, Any], pod: str) -> tuple[str, str, str] | None:
    phase, code, reason = t["phase"], t["exit_code"], t["reason"]
    ended = f"exit code {code}" + (f" ({reason})" if reason and reason not in ("Completed", "Stopped") else "")
    if phase == "Running":
        return "Normal", "Started", f"started pod {pod}"
    if phase == "Succeeded":
        return "Normal", "Completed", f"pod {pod} completed ({ended})"
    if phase == "Failed":
        return "Warning", "Failed" if reason in GENERIC else reason, f"pod {pod} failed: {ended}"
    if phase == "Stopped":
        return "Normal", "Stopped", f"pod {pod} stopped ({ended})"
    if phase == "Unknown":
        return "Warning", "Lost", f"pod {pod} lost" + (f" ({reason})" if reason else "")
    return None  # Pending: told by Created


def _event(t: dict[str, Any], type: str, reason: str, message: str) -> dict[str, Any]:
    return {"time": t["time"], "object": f"pod/{t['pod']}", "type": type, "reason": reason, "source": SOURCE,
            "message": message}
