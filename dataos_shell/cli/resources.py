"""Resource verbs: apply, get, describe, delete, history, diff, api-resources."""
from __future__ import annotations

import difflib
from typing import Any, Optional

import typer

from syscalls.errors import SyscallError

from userlib.output import Format, age, emit, paint, render, table, to_yaml
from userlib.plurals import SHORT_NAMES, plural
from ..session import client
from . import complete
from . import identifiers as ids
from .options import GET_OUTPUT, OUTPUT, SELECTOR, WATCH, WORKSPACE
from .views import ref_name as _ref_name
from .views import show_resources

KIND = typer.Argument(None, help="Resource type (workflow, depot, policy, …).", autocompletion=complete.types)
NAME = typer.Argument(None, help="Resource name.", autocompletion=complete.names)
FILES = typer.Option(..., "--file", "-f", help="A manifest file, a directory, or - for stdin (repeatable).")
RECURSIVE = typer.Option(False, "--recursive", "-R", help="Read directories recursively.")


def register(app: typer.Typer) -> None:
    for command in (apply, get, describe, delete, history, diff):
        app.command()(command)
    app.command("api-resources")(api_resources)


def _load(files: list[str], recursive: bool):
    from userlib.manifests import load_manifests
    manifests = load_manifests(files, recursive=recursive)
    if not manifests:
        raise SyscallError("EINVAL", f"{', '.join(files)}: no manifests found", field="file")
    return manifests


def located_in(e: SyscallError, manifests: list) -> SyscallError:
    """Prefix a kernel error about document i with that document's FILE:LINE."""
    doc = e.details.get("document")
    if isinstance(doc, int) and 0 <= doc < len(manifests):
        e.message = f"{manifests[doc].where(e.details.get('field') or None)}: {e.message}"
    return e


def _apply(manifests: list, workspace: str | None, dry_run: bool) -> dict[str, Any]:
    try:
        return client().resource.apply(manifests=[m.data for m in manifests], workspace=workspace,
                                       dry_run=dry_run)
    except SyscallError as e:
        raise located_in(e, manifests) from None


def apply(files: list[str] = FILES, recursive: bool = RECURSIVE, workspace: Optional[str] = WORKSPACE,
          dry_run: bool = typer.Option(False, "--dry-run", help="Validate and show what would change; write nothing."),
          output: Format = OUTPUT) -> None:
    """Create or update resources from manifests ($VAR interpolated), all or nothing."""
    manifests = _load(files, recursive)
    result = _apply(manifests, workspace, dry_run)
    if output in (Format.json, Format.yaml):
        render(result, output)
        return
    suffix = " (dry run)" if dry_run else ""
    lines = []
    for r in result["results"]:
        where = f" in {r['workspace']}" if r["workspace"] else ""
        if output is Format.name:
            lines.append(_ref_name(r))
        else:
            lines.append(f"{_ref_name(r)} {r['action']}{suffix}{where}, generation {r['generation']}")
    emit("\n".join(lines))


def get(kind: Optional[str] = KIND,
        name: Optional[str] = typer.Argument(None, help="Resource name; all of the type when left out.",
                                             autocompletion=complete.names),
        runtime_name: Optional[str] = typer.Argument(None, hidden=True, help="`get runtime TYPE NAME`."),
        workspace: Optional[str] = WORKSPACE,
        all_workspaces: bool = typer.Option(False, "--all-workspaces", "-A", help="Every workspace."),
        type_opt: Optional[str] = ids.TYPE, name_opt: Optional[str] = ids.NAME,
        ident: Optional[str] = ids.IDENT, id_: Optional[str] = ids.ID,
        selector: list[str] | None = SELECTOR, watch: bool = WATCH, output: Any = GET_OUTPUT) -> None:
    """List resources, or show one; with --watch, then every change."""
    templated = not isinstance(output, Format)
    if kind == "runtime":  # `get runtime -t workflow -n NAME`, dataos-ctl's form
        _resources_only("runtime", selector, watch)
        ref = ids.require(ids.resolve(name, runtime_name, type_opt=type_opt, name_opt=name_opt,
                                      workspace=workspace, ident=ident, id_=id_), "get runtime")
        found = client().runtime.get(type=ref.type, name=ref.name, workspace=ref.workspace)
        if templated:
            from .selection import print_templated
            print_templated(output, found, [found])
            return
        from .runtime import show_runtime
        show_runtime(found, output)
        return
    if runtime_name is not None:
        raise SyscallError("EINVAL", f"get: unexpected argument {runtime_name!r}", field="name")
    ref = ids.resolve(kind, name, type_opt=type_opt, name_opt=name_opt, workspace=workspace, ident=ident, id_=id_)
    if ref.type == "pod":  # `get pods` is `pods`; `get pod NAME` one of them
        _resources_only("pods", selector, watch)
        ws = None if all_workspaces else (ref.workspace or "public")
        found = [client().pod.get(name=ref.name)] if ref.name else client().pod.list(workspace=ws)
        if templated:
            from .selection import listed, print_templated
            print_templated(output, found[0] if ref.name else listed(found), found)
            return
        from .runtime import show_pods
        show_pods(found, output, one=bool(ref.name))
        return
    if selector or watch or templated:
        from .selection import show, tag_selector
        show(ref, all_workspaces, output, tag_selector(selector), watch)
        return
    show_resources(ref, all_workspaces, output)


def _resources_only(what: str, selector: list[str] | None, watch: bool) -> None:
    if selector or watch:
        hint = "; `dataos pods --watch` follows pods" if what == "pods" and watch else ""
        raise SyscallError("EINVAL", f"get {what}: {'-l' if selector else '--watch'} is for resources{hint}",
                           field="selector" if selector else "watch")


def describe(kind: Optional[str] = KIND, name: Optional[str] = NAME,
             workspace: Optional[str] = WORKSPACE, type_opt: Optional[str] = ids.TYPE,
             name_opt: Optional[str] = ids.NAME, ident: Optional[str] = ids.IDENT,
             id_: Optional[str] = ids.ID) -> None:
    """Show a resource (or a pod) in detail: metadata, status (why a runtime failed), spec, history, events."""
    ref = ids.require(ids.resolve(kind, name, type_opt=type_opt, name_opt=name_opt, workspace=workspace,
                                  ident=ident, id_=id_), "describe")
    if ref.type == "pod":
        from .runtime import describe_pod
        describe_pod(ref.name)
        return
    r = client().resource.get(type=ref.type, name=ref.name, workspace=ref.workspace)
    generations = client().resource.history(type=ref.type, name=ref.name, workspace=ref.workspace)
    s = r.get("status", {})
    meta = [("Name", r["name"]), ("Type", f"{r['type']} ({r.get('version')})"),
            ("Workspace", r.get("workspace") or "- (instance-level)"), ("Owner", r.get("owner")),
            ("Tags", ", ".join(r.get("tags", [])) or "-"), ("Description", r.get("description") or "-"),
            ("UID", s.get("uid")), ("Generation", s.get("generation")),
            ("Created", f"{s.get('created')} ({age(s.get('created'))} ago)"),
            ("Updated", f"{s.get('updated')} ({age(s.get('updated'))} ago)"),
            ("Status", s.get("aggregateStatus") + (f": {s['error']}" if s.get("error") else ""))]
    meta += [(k, v) for k, v in (("Builder", s.get("builderState")), ("Runtime", s.get("runtime"))) if v]
    from .runtime import event_lines, failure
    workload = r["type"] in ("workflow", "service", "worker")
    if workload:
        meta += failure(r["type"], r["name"], r.get("workspace"))
    applied = [g for g in generations if g["generation"] == s.get("generation") and g["action"] != "deleted"]
    if workload and applied:  # pods act as who applied what they run
        meta.append(("Runs as", f"{applied[-1]['by']} (who applied generation {s.get('generation')})"))
    out = [f"{paint(k + ':', 'bold')}{' ' * (13 - len(k))}{str(v).replace(chr(10), chr(10) + ' ' * 14)}"
           for k, v in meta]
    out.append(paint("Spec:", "bold"))
    out += ["  " + line for line in to_yaml({r["type"]: r[r["type"]]}).splitlines()]
    out.append(paint("History:", "bold"))
    hist = table(["generation", "applied", "by", "action"],
                 [[g["generation"], g["applied"], g["by"], g["action"]] for g in generations[-10:]])
    out += ["  " + line for line in hist.splitlines()]
    out += event_lines(r["type"], r["name"], r.get("workspace"))
    emit("\n".join(out))


def delete(kind: Optional[str] = KIND, name: Optional[str] = NAME,
           files: Optional[list[str]] = typer.Option(None, "--file", "-f", help="Delete what these manifests name."),
           recursive: bool = RECURSIVE, workspace: Optional[str] = WORKSPACE,
           type_opt: Optional[str] = ids.TYPE, name_opt: Optional[str] = ids.NAME,
           ident: Optional[str] = ids.IDENT, id_: Optional[str] = ids.ID,
           ignore_not_found: bool = typer.Option(False, "--ignore-not-found", help="A missing resource is no error."),
           output: Format = OUTPUT) -> None:
    """Delete resources by identifier or by manifest (their history is kept)."""
    if files:
        if kind or name or type_opt or name_opt or ident or id_:
            raise SyscallError("EINVAL", "delete: give either -f or an identifier, not both")
        targets = [(m.data.get("type"), m.data.get("name"), m.data.get("workspace") or workspace, m)
                   for m in _load(files, recursive)]
    else:
        ref = ids.require(ids.resolve(kind, name, type_opt=type_opt, name_opt=name_opt, workspace=workspace,
                                      ident=ident, id_=id_), "delete")
        targets = [(ref.type, ref.name, ref.workspace, None)]
    def located(e: SyscallError, manifest) -> SyscallError:
        if manifest is not None:
            e.message = f"{manifest.where()}: {e.message}"
        return e

    present = []
    for target in targets:  # find every one first: a missing one stops the delete before it starts
        try:
            client().resource.get(type=target[0], name=target[1], workspace=target[2])
            present.append(target)
        except SyscallError as e:
            if not (e.code == "ENOENT" and ignore_not_found):
                raise located(e, target[3]) from None
    done = []
    for type_name, res_name, ws, manifest in present:
        try:
            done.append(client().resource.delete(type=type_name, name=res_name, workspace=ws))
        except SyscallError as e:
            if not (e.code == "ENOENT" and ignore_not_found):
                raise located(e, manifest) from None
    if output in (Format.json, Format.yaml):
        render(done, output)
    else:
        emit("\n".join(_ref_name(r) + ("" if output is Format.name else " deleted") for r in done) or "nothing deleted")


def history(kind: Optional[str] = KIND, name: Optional[str] = NAME,
            workspace: Optional[str] = WORKSPACE, type_opt: Optional[str] = ids.TYPE,
            name_opt: Optional[str] = ids.NAME, ident: Optional[str] = ids.IDENT, id_: Optional[str] = ids.ID,
            output: Format = OUTPUT) -> None:
    """Every applied generation of a resource, oldest first."""
    ref = ids.require(ids.resolve(kind, name, type_opt=type_opt, name_opt=name_opt, workspace=workspace,
                                  ident=ident, id_=id_), "history")
    generations = client().resource.history(type=ref.type, name=ref.name, workspace=ref.workspace)
    headers = ["generation", "uid", "applied", "by", "action"]
    rows = [[g["generation"], g["uid"][:8], g["applied"], g["by"], g["action"]] for g in generations]
    render(generations, output, headers, rows, (f"{ref.type}/{ref.name}@{g['generation']}" for g in generations))


def diff(files: list[str] = FILES, recursive: bool = RECURSIVE, workspace: Optional[str] = WORKSPACE) -> None:
    """Show what applying these manifests would change (exit 1 when something would)."""
    manifests = _load(files, recursive)
    result = _apply(manifests, workspace, dry_run=True)
    chunks = []
    for r in result["results"]:
        if r["action"] == "unchanged":
            continue
        live = {}
        if r["action"] != "created":
            live = client().resource.get(type=r["type"], name=r["name"], workspace=r["workspace"])
            live.pop("status", None)
        desired = {k: v for k, v in r["resource"].items() if k != "status"}
        label = _ref_name(r)
        lines = difflib.unified_diff(to_yaml(live).splitlines() if live else [], to_yaml(desired).splitlines(),
                                     f"live/{label}", f"file/{label}", lineterm="")
        chunks.append("\n".join(_colour_diff(line) for line in lines))
    if chunks:
        emit("\n".join(chunks))
        raise typer.Exit(1)


def _colour_diff(line: str) -> str:
    if line.startswith(("+++", "---")):
        return paint(line, "bold")
    if line.startswith("+"):
        return paint(line, "green")
    if line.startswith("-"):
        return paint(line, "red")
    if line.startswith("@@"):
        return paint(line, "blue")
    return line


def api_resources(output: Format = OUTPUT) -> None:
    """The resource types this kernel knows: names, short names, level, versions (and pods)."""
    types = client().resource.types() + [{"type": "pod", "level": "workspace", "versions": ["v1"],
                                         "summary": "A process that runs a workload (read-only)"}]
    listed = [{"name": plural(t["type"]), "shortNames": [SHORT_NAMES[t["type"]]] if t["type"] in SHORT_NAMES else [],
               **t} for t in types]
    headers = ["name", "shortnames", "level", "versions", "summary"]
    rows = [[r["name"], ",".join(r["shortNames"]), r["level"], ",".join(r["versions"]), r["summary"]] for r in listed]
    render(listed, output, headers, rows, (r["name"] for r in listed))
