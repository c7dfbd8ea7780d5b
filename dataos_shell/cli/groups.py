"""The command groups' class: an unknown sub-command is one ENOSYS line, like any other error."""
from __future__ import annotations

from typer.core import TyperGroup


class OneLineGroup(TyperGroup):
    """A command group whose unknown sub-command is one ENOSYS line naming the nearest, like any
    other error (not Typer's usage box)."""

    def resolve_command(self, ctx, args):
        """An unknown command is one ENOSYS line naming the nearest one, like any other error."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib
            from syscalls.errors import SyscallError
            near = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.6)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise SyscallError("ENOSYS", f"{name}: no such command{hint}; `{ctx.command_path} --help` lists them")
        return super().resolve_command(ctx, args)
