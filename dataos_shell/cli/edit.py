"""`dataos edit TYPE NAME`: the resource's YAML in $EDITOR, applied at the generation it was read
at (kubectl edit). A change made meanwhile is ECONFLICT; a failed save keeps the edited file."""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from syscalls.errors import SyscallError
from userlib.output import emit, to_yaml

from ..session import client
from . import identifiers as ids
from .options import WORKSPACE
from .resources import KIND, NAME, located_in

HEADER = """\
# Edit the {ref} below; lines beginning with '#' are ignored, and an empty file cancels the edit.
# It is applied as if read at generation {generation}: if the {type} changes meanwhile, the save fails
# (ECONFLICT) and your edit is kept. The status section is the kernel's (changes to it are ignored).
"""


def edit(kind: str | None = KIND, name: str | None = NAME, workspace: str | None = WORKSPACE,
         type_opt: str | None = ids.TYPE, name_opt: str | None = ids.NAME, ident: str | None = ids.IDENT,
         id_: str | None = ids.ID) -> None:
    """Edit a resource in $EDITOR ($VISUAL, else vi) and apply it if it changed."""
    ref = ids.require(ids.resolve(kind, name, type_opt=type_opt, name_opt=name_opt, workspace=workspace,
                                  ident=ident, id_=id_), "edit")
    if ref.type == "pod":
        raise SyscallError("EINVAL", "edit: pods are run by their resources; edit the resource instead", field="type")
    live = client().resource.get(type=ref.type, name=ref.name, workspace=ref.workspace)
    status = live["status"]
    label = f"{live['type']}/{live['name']}"
    original = HEADER.format(ref=label, generation=status["generation"], type=live["type"]) + to_yaml(live)
    fd, path = tempfile.mkstemp(prefix=f"dataos-edit-{live['type']}-{live['name']}-", suffix=".yaml")
    with os.fdopen(fd, "w") as f:
        f.write(original)
    try:
        _run_editor(path)
        text = Path(path).read_text()
        manifest = _parse(text, path)
        if manifest is None or _spec(manifest.data) == _spec(live):
            os.unlink(path)
            emit("Edit cancelled, " + ("saved file was empty." if manifest is None else "no changes made."))
            return
        edited = manifest.data
        _same_identity(edited, live)
        edited["status"] = {"uid": status["uid"], "generation": status["generation"]}
        try:
            result = client().resource.apply(manifests=[edited], workspace=ref.workspace)
        except SyscallError as e:
            raise (e if e.code == "ECONFLICT" else located_in(e, [manifest])) from None
    except SyscallError as e:
        if e.code == "ENOENT":  # no editor ran: nothing to keep
            os.unlink(path)
            raise
        kept = "that file" if path in e.message else path
        hint = " (remove its status to apply it over the change, or edit again)" if e.code == "ECONFLICT" else ""
        e.message = f"{e.message}; your edit is kept in {kept}{hint}"
        raise
    os.unlink(path)
    [done] = result["results"]
    emit(f"{label} edited, generation {done['generation']}")


def _run_editor(path: str) -> None:
    editor = os.environ.get("DATAOS_EDITOR") or os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    try:
        done = subprocess.run([*shlex.split(editor), path], check=False)
    except (OSError, ValueError) as e:
        why = "no such program" if isinstance(e, FileNotFoundError) else getattr(e, "strerror", None) or str(e)
        raise SyscallError("ENOENT", f"cannot run the editor {editor!r}: {why}; set EDITOR (or VISUAL)",
                           field="EDITOR") from None
    if done.returncode != 0:
        raise SyscallError("ECANCELED", f"the editor {editor!r} exited with status {done.returncode}; nothing "
                           "was applied")


def _parse(text: str, path: str):
    """The one manifest of the edited file, verbatim (no $VAR interpolation: `$` is the stored
    text's own); None when the file holds none."""
    from userlib.manifests import parse_manifests
    found = parse_manifests(text.replace("$", "$$"), path, env={})  # `$$` reads back as `$`: lines stay put
    if len(found) > 1:
        raise SyscallError("EINVAL", f"{found[1].where()}: edit one resource: the file has {len(found)} documents",
                           field="document")
    return found[0] if found else None


def _same_identity(edited: dict, live: dict) -> None:
    for key in ("type", "name", "workspace"):
        if edited.get(key, live.get(key)) != live.get(key):
            raise SyscallError("EINVAL", f"{key}: a {live['type']}'s {key} cannot be edited (it was "
                               f"{live.get(key)!r}); apply a new manifest to make another", field=key)


def _spec(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k != "status"}
