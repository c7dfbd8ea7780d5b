"""Highlighting of the shell's input: SQL through pygments' SQL lexer, command lines simply
(the command word, flags, `dataos://` paths, quoted strings, `$VARIABLES`, `# comments`).

Command-line fragments carry two classes, ours and the nearest pygments one
(`class:shell.flag,pygments.name.attribute`), so one pygments-based style colours both; or use
`shell_style()`.
"""
from __future__ import annotations

import re
from typing import Callable

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer, PygmentsLexer
from pygments.lexers.sql import SqlLexer

from userlib.sqltext import is_sql

__all__ = ["ShellLexer", "is_sql", "shell_style"]

COMMAND = "class:shell.command,pygments.keyword"
FLAG = "class:shell.flag,pygments.name.attribute"
PATH = "class:shell.path,pygments.name.namespace"
STRING = "class:shell.string,pygments.literal.string"
VARIABLE = "class:shell.variable,pygments.name.variable"
COMMENT = "class:shell.comment,pygments.comment"
TEXT = ""

_TOKEN = re.compile(r"""
  (?P<ws>\s+)
| (?P<comment>\#.*)
| (?P<string>"(?:[^"\\]|\\.)*(?:"|\Z)|'[^']*(?:'|\Z))
| (?P<path>dataos://\S*)
| (?P<variable>\$\{?\w+\}?)
| (?P<flag>(?<![^\s])--?[A-Za-z][\w-]*(?:=)?)
| (?P<word>[^\s"'$]+|[$])
""", re.X)

_STYLE = {"comment": COMMENT, "string": STRING, "path": PATH, "variable": VARIABLE, "flag": FLAG}


def command_fragments(text: str) -> StyleAndTextTuples:
    """The styled fragments of a command line (newlines included as text)."""
    out: StyleAndTextTuples = []
    first = True
    for m in _TOKEN.finditer(text):
        kind, value = m.lastgroup, m.group()
        if kind == "ws":
            out.append((TEXT, value))
            continue
        if kind == "word" and first:
            out.append((COMMAND, value))
        else:
            out.append((_STYLE.get(kind or "", TEXT), value))
        first = False
    return out


def _lines(fragments: StyleAndTextTuples) -> list[StyleAndTextTuples]:
    lines: list[StyleAndTextTuples] = [[]]
    for style, text, *_ in fragments:
        parts = text.split("\n")
        for i, part in enumerate(parts):
            if i:
                lines.append([])
            if part:
                lines[-1].append((style, part))
    return lines


class ShellLexer(Lexer):
    """SQL (a buffer whose first word is a SQL keyword) through pygments; anything else as a command."""

    def __init__(self) -> None:
        self._sql = PygmentsLexer(SqlLexer)

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        if is_sql(document.text):
            return self._sql.lex_document(document)
        lines = _lines(command_fragments(document.text))

        def get_line(lineno: int) -> StyleAndTextTuples:
            return lines[lineno] if 0 <= lineno < len(lines) else []
        return get_line


def shell_style():
    """A prompt_toolkit style for the lexer's classes: pygments' default colours plus ours."""
    from prompt_toolkit.styles import Style, merge_styles, style_from_pygments_cls
    from pygments.styles import get_style_by_name
    ours = Style.from_dict({"shell.command": "bold #5f87ff", "shell.flag": "#af8700", "shell.path": "#00af87",
                            "shell.string": "#af5f00", "shell.variable": "#af00af", "shell.comment": "italic #808080"})
    return merge_styles([style_from_pygments_cls(get_style_by_name("default")), ours])
