"""SQL at the prompt: which lines are SQL, where statements end (`;`), and running one so that
Ctrl-C cancels it in the kernel."""
from __future__ import annotations

import re
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING, Iterator

from syscalls.errors import SyscallError
from userlib.output import columns, emit, error_line, fitted, notice
from userlib.sqltext import KEYWORDS, is_sql  # noqa: F401 — KEYWORDS: the help and did-you-mean read them here

if TYPE_CHECKING:
    from .commands import Shell

LIMIT = 1000  # rows shown, as `dataos query`
_META = re.compile(r"\s*\\dt?\+?(?=\s|$)")


def is_meta(text: str) -> bool:
    """True for pgcli's `\\d`, `\\dt` and `\\d NAME`: commands the Gateway answers like SQL."""
    return bool(_META.match(text))


def expand_alias(text: str, aliases: dict[str, str]) -> str:
    """The line with its first word replaced by its alias, if it has one."""
    stripped = text.lstrip()
    word = stripped.split(None, 1)[0] if stripped else ""
    if word in aliases:
        return aliases[word] + stripped[len(word):]
    return text


def statements(text: str, aliases: dict[str, str]) -> Iterator[tuple[str, bool]]:
    """The commands and SQL statements of `text`, each with whether it is complete.

    A command ends at a newline or a `;`; a SQL statement only at a `;` (which it keeps). Quotes
    and SQL comments hide both; a line starting with `#` (or `-- `) is a comment. Aliases are
    read as the text is consumed, so a script's `alias` applies to the lines after it."""
    buf: list[str] = []
    quote = ""
    i, n = 0, len(text)

    def sql() -> bool:
        return is_sql(expand_alias("".join(buf), aliases))

    def line_end() -> int:
        end = text.find("\n", i)
        return n if end < 0 else end

    while i < n:
        c = text[i]
        blank = not "".join(buf).strip()
        if quote and (c != "\n" or sql()):  # a command's open quote ends with its line
            buf.append(c)
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
            buf.append(c)
        elif c == "\\" and i + 1 < n and not sql():
            buf.append(text[i:i + 2])
            i += 1
        elif (c == "#" and blank) or (text.startswith("--", i) and (sql() or (blank and text[i + 2:i + 3] in " \n"))):
            if not blank:
                buf.append(text[i:line_end()])
            i = line_end()
            continue
        elif c in ";\n":
            quote = ""
            if sql():
                buf.append(c)
                if c == ";":
                    yield "".join(buf).strip(), True
                    buf.clear()
            else:
                if not blank:
                    yield "".join(buf).strip(), True
                buf.clear()
        else:
            buf.append(c)
        i += 1
    rest = "".join(buf).strip()
    if rest:
        yield rest, not sql()


def complete(text: str, aliases: dict[str, str]) -> bool:
    """True when Enter should run `text`: no SQL statement is left open."""
    return all(done for _, done in statements(text, aliases))


def run(shell: "Shell", statement: str) -> int:
    """Run one statement in a worker thread; Ctrl-C cancels it (query.cancel) and keeps the shell."""
    state, client = shell.state, shell.client
    query_id = uuid.uuid4().hex
    outcome: dict[str, object] = {}
    done = threading.Event()  # not Thread.join: a Ctrl-C inside join() marks a running thread stopped

    def work() -> None:
        try:
            outcome["result"] = client.query.execute(sql=statement, limit=LIMIT, depot=state.depot,
                                                     collection=state.collection, id=query_id)
        except BaseException as e:  # noqa: BLE001 (handed to the main thread)
            outcome["error"] = e
        finally:
            done.set()

    started = time.monotonic()
    threading.Thread(target=work, name=f"query-{query_id[:8]}", daemon=True).start()
    try:
        while not done.wait(0.05):
            pass
    except KeyboardInterrupt:
        _cancel(client, query_id, done)
        raise SyscallError("ECANCELED", f"query {query_id[:8]} cancelled") from None
    error = outcome.get("error")
    if isinstance(error, SyscallError) and error.details.get("position"):
        print(error_line(error), file=sys.stderr)
        print(caret(statement, *error.details["position"]), file=sys.stderr)
        return error.exit_code
    if error is not None:
        raise error  # type: ignore[misc]
    result: dict = outcome["result"]  # type: ignore[assignment]
    headers = [c["name"] + (f" [{c['masked']}]" if c["masked"] else "") for c in result["columns"]]
    emit(fitted(headers, result["rows"], columns()) if result["rows"] else "(no rows)")
    rows = result["row_count"]
    note = f"({rows} row{'' if rows == 1 else 's'}" + (f", the first {LIMIT}: `query --out FILE` for all"
                                                        if result["truncated"] else "") + ")"
    if state.timing:
        note += f" {(time.monotonic() - started) * 1000:.0f} ms (kernel {result['elapsed_ms']:.0f} ms)"
    notice(note)
    if result["governance"]["policies"]:
        notice(f"policies applied: {', '.join(result['governance']['policies'])}")
    return 0


def _cancel(client, query_id: str, done: threading.Event, wait: float = 10.0) -> None:
    """Cancel until the kernel knows the query (it may not have arrived yet), then wait for it to end.
    A second Ctrl-C stops waiting."""
    deadline = time.monotonic() + wait
    try:
        while not done.is_set() and time.monotonic() < deadline:
            try:
                client.query.cancel(id=query_id)
                break
            except SyscallError as e:
                if e.code != "ENOENT":
                    raise
                time.sleep(0.05)
        done.wait(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass


def caret(statement: str, line: int, column: int) -> str:
    """The statement's line `line` and a caret under `column` (both from 1)."""
    lines = statement.splitlines() or [""]
    text = lines[min(max(line, 1), len(lines)) - 1]
    return f"  {text}\n  {' ' * min(max(column - 1, 0), len(text))}^"
