"""The interactive shell: a prompt_toolkit prompt loop over the one command layer.

Enter runs the line unless it leaves a SQL statement open (then it adds a line); Ctrl-C clears
the line (or cancels a running query), Ctrl-D leaves, Ctrl-R searches the history (a file
under the data dir), and suggestions come from the history. Completion and highlighting are
loaded in the background once the prompt is up (the CLI's command tree takes a while to import)."""
from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from syscalls.errors import SyscallError
from userlib.completion.state import ShellState
from userlib.output import color_enabled, error_line, notice

from .. import session
from . import sql
from .commands import Shell, ShellExit
from .paths import parse

#: The first word of commands after which completion's catalog snapshot is refreshed.
CHANGING = frozenset({"cd", "apply", "delete", "kill", "catalog", "demo"})


class Extras:
    """Completion, highlighting and the catalog source, filled in by a background thread."""
    completer: Any = None
    lexer: Any = None
    style: Any = None
    source: Any = None
    failed: str | None = None

    def __init__(self) -> None:
        self.loaded = threading.Event()

    def load(self, state: ShellState, client: Any, app: Any) -> None:
        try:
            self.completer, self.lexer, self.source = _extras(state, client)
            if self.lexer is not None:
                from .lexer import shell_style
                self.style = shell_style()
        except Exception as e:  # noqa: BLE001 (the shell works without them; said once at the next line)
            self.failed = f"{type(e).__name__}: {e}"
        self.loaded.set()
        app.invalidate()

    def refresh(self) -> None:
        refresh = getattr(self.source, "refresh", None)
        if refresh is not None:
            refresh()


def interactive() -> int:
    """Run the shell on this terminal until `exit` or Ctrl-D: the exit code."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.completion import DynamicCompleter
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.lexers import DynamicLexer
    from prompt_toolkit.styles import DynamicStyle
    state = ShellState()
    client = _connect(state)
    shell = Shell(state, history_file())
    extras = Extras()
    waiting = _until_loaded(extras)
    prompt: Any = PromptSession(history=FileHistory(str(shell.history)), auto_suggest=AutoSuggestFromHistory(),
                                multiline=True, key_bindings=_bindings(state), prompt_continuation=_continuation,
                                completer=DynamicCompleter(lambda: extras.completer or waiting),
                                lexer=DynamicLexer(lambda: extras.lexer), style=DynamicStyle(lambda: extras.style))
    loader = threading.Thread(target=extras.load, args=(state, client, prompt.app), name="dataos-shell-extras",
                              daemon=True)

    def load_after_first_render(app: Any) -> None:  # the prompt first: then the rest, in the background
        if loader.ident is None:
            loader.start()

    if client is not None:
        prompt.app.after_render += load_after_first_render
    try:
        return _loop(prompt, shell, extras)
    finally:
        if loader.is_alive():
            loader.join(5)
        if extras.source is not None:
            extras.source.close()


def _until_loaded(extras: Extras) -> Any:
    """The completer while completion loads: a Tab waits for it (briefly); typing does not."""
    from prompt_toolkit.completion import Completer

    class UntilLoaded(Completer):
        def get_completions(self, document, complete_event):
            if complete_event.completion_requested and extras.loaded.wait(1.5) and extras.completer:
                yield from extras.completer.get_completions(document, complete_event)
    return UntilLoaded()


def _connect(state: ShellState) -> Any:
    """The session's client (its context named in the prompt), or None when the kernel is out of reach."""
    try:
        client = session.client()
    except SyscallError as e:
        print(error_line(e), file=sys.stderr)
        return None
    state.context = client.context or client.url
    notice(f"dataos shell on {state.context}: `help` lists the commands, SQL ends with ;, Ctrl-D leaves")
    return client


def _extras(state: ShellState, client: Any) -> tuple[Any, Any, Any]:
    """Completion (over a catalog source refreshed in the background) and highlighting, when
    their modules are there: (completer, lexer, source), None for what is missing."""
    try:
        from userlib.completion.source import start_source

        from .completion import ShellCompleter
    except ImportError:
        completer = source = None
    else:
        from .commands import all_commands
        source = start_source(client, state)
        completer = ShellCompleter(state, source, all_commands())
    try:
        from .lexer import ShellLexer
    except ImportError:
        lexer = None
    else:
        lexer = ShellLexer()
    return completer, lexer, source


def history_file() -> Path:
    from syscalls.locations import Locations
    data = Locations.current().data
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    return data / "shell_history"


def _loop(prompt: Any, shell: Shell, extras: Extras) -> int:
    while True:
        try:
            text = prompt.prompt(lambda: _message(shell.state))
        except KeyboardInterrupt:
            continue
        except EOFError:
            return shell.state.last_exit
        if extras.failed:
            notice(f"completion and highlighting are off: {extras.failed}")
            extras.failed = None
        try:
            for unit, _ in sql.statements(text, shell.state.aliases):
                shell.run(unit)
                if unit.split(None, 1)[0] in CHANGING:
                    extras.refresh()
        except ShellExit as e:
            return e.code
        except KeyboardInterrupt:
            print(file=sys.stderr)


def _message(state: ShellState) -> Any:
    """`context workspace dataos://cwd> `, coloured unless NO_COLOR (or not a terminal)."""
    where = str(parse(state.cwd))
    if not color_enabled():
        return f"{state.context} {state.workspace} {where}> "
    return [("ansigreen", state.context), ("", " "), ("ansiyellow", state.workspace), ("", " "),
            ("ansiblue bold", where), ("", "> ")]


def _continuation(width: int, line_number: int, is_soft_wrap: bool) -> str:
    return "-> ".rjust(width)


def _bindings(state: ShellState) -> Any:
    from prompt_toolkit.key_binding import KeyBindings
    keys = KeyBindings()

    @keys.add("enter")
    def _enter(event: Any) -> None:
        """Take the highlighted completion; else run the text, unless a SQL statement is still open."""
        buffer = event.current_buffer
        if buffer.complete_state and buffer.complete_state.current_completion:
            buffer.apply_completion(buffer.complete_state.current_completion)
        elif sql.complete(buffer.text, state.aliases):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    return keys
