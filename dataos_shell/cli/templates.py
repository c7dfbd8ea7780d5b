"""kubectl's `-o jsonpath=TEMPLATE` and `-o custom-columns=HEADER:PATH,…`.

The JSONPath subset kubectl prints with: `{.name}`, `{.items[*].name}`, `{.items[0]}`, `{.items[-1:]}`,
`{..name}`, `{.items[?(@.type=="workflow")].name}`, `{['a','b']}`, `{"\\n"}` and
`{range .items[*]}…{end}`; text outside braces is printed as it is. A missing key yields nothing
(kubectl's `--allow-missing-template-keys`); strings print bare, lists and mappings as JSON.
"""
from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from syscalls.errors import SyscallError

_NAME = r"[^.\[\]\s{}'\"()=!<>,@$]+"
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {"==": operator.eq, "!=": operator.ne, "<=": operator.le,
                                                 ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_FILTER = re.compile(r"\s*(@\S*?)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*")

Step = Callable[[Any], Iterator[Any]]


def _bad(template: str, problem: str, flag: str = "jsonpath") -> SyscallError:
    return SyscallError("EINVAL", f"--output: {flag} template {template!r}: {problem}", field="output")


# --- steps: each maps one value to the values it leads to -------------------------------------

def _key(name: str) -> Step:
    def step(value: Any) -> Iterator[Any]:
        if isinstance(value, dict) and name in value:
            yield value[name]
    return step


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from value.values()
    elif isinstance(value, list):
        yield from value


def _descendants(value: Any) -> Iterator[Any]:
    yield value
    for child in _children(value):
        yield from _descendants(child)


def _recursive(name: str) -> Step:
    wanted = _children if name == "*" else _key(name)
    return lambda value: (found for node in _descendants(value) for found in wanted(node))


def _indexes(spec: str) -> Step:
    """`[0]`, `[-1]`, `[0,2]`, `[1:3]`, `[::2]` of a list."""
    def pick(items: list) -> Iterator[Any]:
        for part in spec.split(","):
            if ":" in part:
                bounds = [int(b) if b.strip() else None for b in part.split(":")]
                yield from items[slice(*bounds)]
            elif -len(items) <= int(part) < len(items):
                yield items[int(part)]
    return lambda value: pick(value) if isinstance(value, list) else iter(())


def _filter(expression: str, template: str) -> Step:
    """`?(@.path)` (present) or `?(@.path OP literal-or-@path)`."""
    match = _FILTER.fullmatch(expression)
    if not match:
        raise _bad(template, f"cannot read the filter {expression!r} (e.g. ?(@.type==\"workflow\"))")
    left, op, right = match.groups()
    left_path = _path(left, template)
    if op is None:
        test = lambda item: next(_run(left_path, item, item), None) is not None
    else:
        right_value = _operand(right, template)

        def test(item: Any) -> bool:
            a = next(_run(left_path, item, item), None)
            b = next(_run(right_value, item, item), None) if isinstance(right_value, list) else right_value
            try:
                return a is not None and _COMPARE[op](a, b)
            except TypeError:  # e.g. a string < a number: no match, as in kubectl
                return False
    return lambda value: (item for item in _children(value) if test(item))


def _operand(text: str, template: str) -> Any:
    if text.startswith("@"):
        return _path(text, template)
    if text[:1] in "'\"" and text[-1:] == text[:1] and len(text) > 1:
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError:
        raise _bad(template, f"{text!r} is neither a number, a quoted string, true, false, null nor @.path") from None


def _bracket(inner: str, template: str) -> Step:
    inner = inner.strip()
    if inner == "*":
        return _children
    if inner.startswith("?(") and inner.endswith(")"):
        return _filter(inner[2:-1], template)
    if inner[:1] in "'\"":
        names = [n.strip()[1:-1] for n in _split(inner, ",")]
        return lambda value: (v for n in names for v in _key(n)(value))
    if re.fullmatch(r"-?\d*(:-?\d*){0,2}(,-?\d*(:-?\d*){0,2})*", inner) and inner:
        return _indexes(inner)
    raise _bad(template, f"cannot read [{inner}] (an index, a slice, *, 'name' or ?(filter))")


def _split(text: str, sep: str) -> list[str]:
    """`text` split at `sep` outside quotes."""
    parts, quote, start = [], "", 0
    for i, c in enumerate(text):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == sep:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _closing(text: str, start: int, opening: str, closing: str) -> int:
    """The index of the `closing` that matches `text[start] == opening`, outside quotes; -1 if none."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
    return -1


def _path(text: str, template: str) -> list[Step | str]:
    """A path's steps; a leading `$` (the root) is kept as the marker "$", `@` (the current value) dropped."""
    steps: list[Step | str] = []
    i = 0
    if text[:1] in "$@":
        steps += ["$"] if text[0] == "$" else []
        i = 1
    while i < len(text):
        rest = text[i:]
        if m := re.match(rf"\.\.({_NAME}|\*)", rest):
            steps.append(_recursive(m.group(1)))
        elif m := re.match(r"\.\*", rest):
            steps.append(_children)
        elif m := re.match(rf"\.({_NAME})", rest):
            steps.append(_key(m.group(1)))
        elif rest[0] == "[":
            end = _closing(text, i, "[", "]")
            if end < 0:
                raise _bad(template, f"no ] closes the [ at {rest[:20]!r}")
            steps.append(_bracket(text[i + 1:end], template))
            i = end + 1
            continue
        elif m := re.match(_NAME, rest) if i == 0 else None:  # `{name}` as kubectl reads `{.name}`
            steps.append(_key(m.group(0)))
        else:
            raise _bad(template, f"unexpected {rest[:20]!r}")
        i += m.end()
    return steps


def _run(steps: Sequence[Step | str], current: Any, root: Any) -> Iterator[Any]:
    values: Iterator[Any] = iter([current])
    for step in steps:
        values = iter([root]) if step == "$" else _each(step, values)  # type: ignore[arg-type]
    return values


def _each(step: Step, values: Iterator[Any]) -> Iterator[Any]:
    for value in values:
        yield from step(value)


def text_of(value: Any) -> str:
    """A value as kubectl prints it: strings bare, lists and mappings as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


# --- templates --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Path:
    steps: list


@dataclass(frozen=True)
class _Range:
    steps: list
    body: list


@dataclass(frozen=True)
class JsonPath:
    """A compiled `-o jsonpath=` template."""
    template: str
    nodes: tuple

    @classmethod
    def parse(cls, template: str) -> JsonPath:
        if not template:
            raise _bad(template, "it is empty (e.g. jsonpath='{.items[*].name}')")
        stack: list[list] = [[]]
        i = 0
        while i < len(template):
            start = template.find("{", i)
            if start < 0:
                stack[-1].append(template[i:])
                break
            if start > i:
                stack[-1].append(template[i:start])
            end = _closing(template, start, "{", "}")
            if end < 0:
                raise _bad(template, f"no }} closes the {{ at column {start + 1}")
            expression = template[start + 1:end].strip()
            i = end + 1
            if expression.startswith("range "):
                stack.append([_path(expression[6:].strip(), template)])
            elif expression == "end":
                if len(stack) == 1:
                    raise _bad(template, "{end} without {range …}")
                steps, *body = stack.pop()
                stack[-1].append(_Range(steps, body))
            elif expression[:1] == '"' and expression[-1:] == '"' and len(expression) > 1:
                stack[-1].append(_literal(expression, template))
            elif not expression:
                raise _bad(template, f"empty {{}} at column {start + 1}")
            else:
                stack[-1].append(_Path(_path(expression, template)))
        if len(stack) > 1:
            raise _bad(template, "{range …} without {end}")
        return cls(template, tuple(stack[0]))

    def render(self, value: Any) -> str:
        return "".join(_render(self.nodes, value, value))

    def values(self, value: Any) -> list[Any]:
        """What the template's one path finds in `value` (for custom columns)."""
        (path,) = self.nodes
        return list(_run(path.steps, value, value))


def _literal(expression: str, template: str) -> str:
    try:
        return json.loads(expression, strict=False)  # a tab typed as itself is fine
    except ValueError:
        raise _bad(template, f"{expression} is not a string literal such as \"\\n\"") from None


def _render(nodes: Sequence[Any], current: Any, root: Any) -> Iterator[str]:
    for node in nodes:
        if isinstance(node, str):
            yield node
        elif isinstance(node, _Range):
            for item in _run(node.steps, current, root):
                yield from _render(node.body, item, root)
        else:
            yield " ".join(text_of(v) for v in _run(node.steps, current, root))


@dataclass(frozen=True)
class CustomColumns:
    """A compiled `-o custom-columns=HEADER:PATH,…`: one row per item, `<none>` where a path finds nothing."""
    headers: tuple[str, ...]
    paths: tuple[JsonPath, ...]

    @classmethod
    def parse(cls, spec: str) -> CustomColumns:
        headers, paths = [], []
        for column in spec.split(","):
            header, colon, path = column.partition(":")
            if not colon or not header.strip() or not path.strip():
                raise _bad(spec, f"{column!r} is not HEADER:.path (e.g. NAME:.name,TAGS:.tags)", "custom-columns")
            path = path.strip()
            compiled = JsonPath.parse(path if path.startswith("{") else "{" + path + "}")
            if len(compiled.nodes) != 1 or not isinstance(compiled.nodes[0], _Path):
                raise _bad(spec, f"{path!r} is not one path such as .name", "custom-columns")
            headers.append(header.strip())
            paths.append(compiled)
        return cls(tuple(headers), tuple(paths))

    def row(self, item: Any) -> list[str]:
        cells = []
        for path in self.paths:
            found = path.values(item)
            cells.append(",".join(_cell(v) for v in found) if found else "<none>")
        return cells


def _cell(value: Any) -> str:
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ",".join(text_of(v) for v in value)
    return text_of(value)
