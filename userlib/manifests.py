"""Resource manifests from files, directories and stdin (`apply|delete|diff -f`).

Documents are composed into YAML nodes and built by hand so that every field keeps its
exact line, duplicate keys are refused, `$VAR` interpolation can name the field it failed
in, and the result is plain JSON-compatible data (dates stay strings).
"""
from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from syscalls.errors import SyscallError
from syscalls.spec import INT64, quote

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_MAP, _SEQ, _STR, _NULL, _MERGE = (_TAG + t for t in ("map", "seq", "str", "null", "merge"))
_TYPED = {_TAG + "int": "a number", _TAG + "float": "a number", _TAG + "bool": "a boolean", _NULL: "null"}
_EXTENSIONS = (".yaml", ".yml", ".json")
_STDIN = "<stdin>"
_BUILDING = object()  # marks a node being built, to catch recursive aliases
MAX_NODES = 50_000  # a document of more YAML nodes is refused while it is read (in well under 1 s)
MAX_FILE = 32 * 2**20  # bytes of a manifest file (or stdin): what one request may carry
MAX_VALUES = 1_000_000  # a document expanding (through aliases) to more values is refused
MAX_BYTES = 16 * 2**20  # …or to more text than this (a request carries at most 32 MiB)
MAX_NUMBER = 100  # characters of a number's text (a 64-bit integer in any notation needs far fewer)
POLICY_VARIABLES = frozenset({"user"})  # ${user} belongs to access policies: never interpolated
# $$ | ${NAME} | ${NAME:-default} | $NAME
_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


class _TooLarge(Exception):
    """A document past MAX_NODES, found while it is composed (so before the work, not after)."""

    def __init__(self, mark: Any) -> None:
        self.mark = mark


class _Loader(Composer, _Base):  # type: ignore[misc, valid-type]
    """Safe loader without the timestamp resolver (dates load as strings) that composes at most
    MAX_NODES nodes a document. (libyaml's own composer is no faster than this one, and cannot count.)"""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TAG + "timestamp"]
        for first, resolvers in _Base.yaml_implicit_resolvers.items()
    }

    def __init__(self, text: str) -> None:
        _Base.__init__(self, text)
        self.anchors: dict[str, Node] = {}
        self.nodes = 0

    def compose_document(self) -> Node:
        self.nodes = 0
        return super().compose_document()

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge(self.peek_event().start_mark)
        return super().compose_node(parent, index)


@dataclass(frozen=True)
class Manifest:
    """One resource document with where it came from, field by field."""

    data: dict
    file: str
    document: int
    line: int
    lines: Mapping[str, int]

    def line_of(self, field: str) -> int:
        """Line of `field`; falls back to the nearest ancestor present, then to the document."""
        while field:
            if field in self.lines:
                return self.lines[field]
            field = field[: max(field.rfind("."), field.rfind("["), 0)]
        return self.line

    def where(self, field: str | None = None) -> str:
        """'FILE:LINE' for a field (or the document)."""
        return f"{self.file}:{self.line_of(field) if field else self.line}"


def load_manifests(sources: Sequence[str], *, recursive: bool = False,
                   env: Mapping[str, str] | None = None, stdin: TextIO | None = None) -> list[Manifest]:
    """Manifests from files, directories (`recursive` for subdirectories) and `-` (stdin), in order."""
    manifests: list[Manifest] = []
    for source in sources:
        if source == "-":
            text = (stdin or sys.stdin).read(MAX_FILE + 1)
            if len(text) > MAX_FILE:
                raise _too_big(_STDIN)
            manifests += parse_manifests(text, _STDIN, env=env)
            continue
        for file in _files(source, recursive):
            manifests += parse_manifests(_read(file), file, env=env)
    return manifests


def parse_manifests(text: str, file: str, *, env: Mapping[str, str] | None = None) -> list[Manifest]:
    """Manifests in one YAML (or JSON) text; empty documents are skipped."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:  # bytes that were not UTF-8, escaped into the text (stdin)
            raise _invalid(file, text.count("\n", 0, e.start) + 1, "not UTF-8 text") from None
    manifests = []
    try:
        loader = _Loader(text)
        try:
            builder = _Builder(file, os.environ if env is None else env, loader)
            index = 0
            while loader.check_node():
                node = loader.get_node()
                if not _is_empty(node):
                    manifests.append(builder.manifest(node, index))
                index += 1
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = " ".join(str(e.problem or e.context or "syntax error").split())
        raise _invalid(file, mark.line + 1, f"invalid YAML (column {mark.column + 1}): {problem}",
                       column=mark.column + 1) from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow
        at = max(text.find(chr(e.character)), 0)
        column = at - text.rfind("\n", 0, at)
        raise _invalid(file, text.count("\n", 0, at) + 1,
                       f"invalid YAML (column {column}): character #x{e.character:04x}: {e.reason}",
                       column=column) from None
    except yaml.YAMLError as e:
        raise _invalid(file, 1, "invalid YAML: " + " ".join(str(e).split())) from None
    except RecursionError:
        raise _invalid(file, 1, "document nested too deeply") from None
    except _TooLarge as e:
        raise _invalid(file, e.mark.line + 1, f"the document has more than {MAX_NODES:,} values; "
                       "split it into smaller documents") from None
    return manifests


class _Builder:
    """Builds documents from nodes: data, field lines, interpolation, strict checks."""

    def __init__(self, file: str, env: Mapping[str, str], loader: Any) -> None:
        self.file = file
        self.env = env
        self.loader = loader
        self.lines: dict[str, int] = {}  # field -> line, per document
        self.built: dict[int, Any] = {}  # id(node) -> value, per document: an alias is built once
        self.sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, characters) it expands to

    def manifest(self, root: Node, index: int) -> Manifest:
        line = root.start_mark.line + 1
        if not isinstance(root, MappingNode) or root.tag != _MAP:
            raise _invalid(self.file, line, f"expected a mapping (a resource manifest), got {_kind(root)}")
        self.lines = {}
        self.built = {}
        self.sizes = {}
        return Manifest(self.build(root, ""), self.file, index, line, self.lines)

    def build(self, node: Node, path: str) -> Any:
        key = id(node)
        if key in self.built:
            if self.built[key] is _BUILDING:
                raise self.error(node, path, "recursive alias")
            return self.built[key]
        if isinstance(node, ScalarNode):
            if node.tag == _STR:
                value = self.interpolate(node, path)
            elif node.tag in _TYPED:
                value = self.typed(node, path)
            else:
                raise self.error(node, path, f"unsupported YAML tag {_short(node.tag)}")
            self.built[key] = value
            self.sizes[key] = (1, len(node.value) + 2)
            return value
        self.built[key] = _BUILDING
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            value = self.sequence(node, path)
        elif isinstance(node, MappingNode) and node.tag == _MAP:
            value = self.mapping(node, path)
        else:
            raise self.error(node, path, f"unsupported YAML tag {_short(node.tag)}")
        children = node.value if isinstance(node, SequenceNode) else [v for _, v in node.value]
        values, size = 1, 2
        for child in children:
            child_values, child_size = self.sizes.get(id(child), (1, 2))
            values, size = values + child_values, size + child_size + 1
        self.sizes[key] = (values, size)
        if values > MAX_VALUES or size > MAX_BYTES:
            too_much = f"{MAX_VALUES:,} values" if values > MAX_VALUES else f"{MAX_BYTES // 2**20} MiB"
            raise self.error(node, path, f"the document expands to more than {too_much} (aliases nested too deep?)")
        self.built[key] = value
        return value

    def typed(self, node: ScalarNode, path: str) -> Any:
        """A number, boolean or null scalar (plain or tagged `!!int` and the like), checked."""
        what = _TYPED[node.tag]
        if len(node.value) > MAX_NUMBER:
            raise self.error(node, path, f"{what} of more than {MAX_NUMBER} characters")
        try:
            value = self.loader.yaml_constructors[node.tag](self.loader, node)
        except (ValueError, KeyError, IndexError, OverflowError):
            raise self.error(node, path, f"{quote(node.value)} is not {what} ({_short(node.tag)})") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(node, path, f"{quote(node.value)} is not a finite number")
        if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
            raise self.error(node, path, f"{quote(node.value)} is out of range (integers must fit in 64 bits)")
        return value

    def sequence(self, node: SequenceNode, path: str) -> list:
        items = []
        for i, item in enumerate(node.value):
            field = f"{path}[{i}]"
            self.lines[field] = item.start_mark.line + 1
            items.append(self.build(item, field))
        return items

    def mapping(self, node: MappingNode, path: str) -> dict:
        first: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.error(key_node, path, f"mapping keys must be strings, got {_kind(key_node)}")
            line = key_node.start_mark.line + 1
            if key_node.value in first:
                field = f"{path}.{key_node.value}" if path else key_node.value
                raise _invalid(self.file, line, f"duplicate key '{field}' (first at line {first[key_node.value]})",
                               field=field)
            first[key_node.value] = line
        if len(first) < len(node.value):
            self.loader.flatten_mapping(node)  # `<<: *anchor` merge keys; explicit keys win
        result = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise self.error(key_node, path, f"mapping keys must be strings, got {_kind(key_node)}")
            field = f"{path}.{key_node.value}" if path else key_node.value
            self.lines[field] = key_node.start_mark.line + 1
            result[key_node.value] = self.build(value_node, field)
        return result

    def interpolate(self, node: ScalarNode, path: str) -> str:
        value: str = node.value
        if "$" not in value:
            return value

        def substitute(match: re.Match[str]) -> str:
            dollar, braced, default, bare = match.groups()
            if dollar:
                return "$"
            name = braced or bare
            if name in POLICY_VARIABLES:
                return match.group(0)
            found = self.env.get(name)
            if default is not None and not found:
                return default
            if found is None:
                raise self.error(node, path, f"undefined variable ${name}",
                                 " (set it, or write $$ for a literal $)")
            return found

        return _VAR.sub(substitute, value)

    def error(self, node: Node, path: str, problem: str, hint: str = "") -> SyscallError:
        """EINVAL at `node`: 'PROBLEM in field 'PATH'HINT'."""
        where = f" in field '{path}'" if path else ""
        return _invalid(self.file, node.start_mark.line + 1, f"{problem}{where}{hint}", field=path or None)


def _is_empty(node: Node) -> bool:
    """A document with nothing but comments or whitespace."""
    return isinstance(node, ScalarNode) and node.tag == _NULL and node.value == ""


def _kind(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a mapping"
    return "a string" if node.tag == _STR else _TYPED.get(node.tag, f"a {_short(node.tag)} value")


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _invalid(file: str, line: int, problem: str, **details: Any) -> SyscallError:
    details = {k: v for k, v in details.items() if v is not None}
    return SyscallError("EINVAL", f"{file}:{line}: {problem}", file=file, line=line, **details)


def _files(source: str, recursive: bool) -> list[str]:
    """The manifest files of a source: itself if a file, else its manifest files by name."""
    path = Path(source)
    if not path.exists():
        raise SyscallError("ENOENT", f"{source}: no such file or directory", file=source)
    if not path.is_dir():
        return [source]
    files: list[str] = []
    subdirs = _walk(path, recursive, files, {path.resolve()})
    if not files:
        hint = " (use -R to include subdirectories)" if subdirs and not recursive else ""
        raise SyscallError("EINVAL", f"{source}: no manifest files (*.yaml, *.yml, *.json){hint}", file=source)
    return files


def _walk(directory: Path, recursive: bool, files: list[str], seen: set[Path]) -> bool:
    """Append manifest files in name order (descending into subdirectories in place if
    `recursive`, once each); hidden entries are skipped. True if there are subdirectories."""
    subdirs = False
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as e:
        raise SyscallError("EINVAL", f"{directory}: cannot read: {e.strerror or e}", file=str(directory)) from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            subdirs = True
            if recursive and entry.resolve() not in seen:
                seen.add(entry.resolve())
                _walk(entry, recursive, files, seen)
        elif entry.suffix.lower() in _EXTENSIONS and entry.is_file():
            files.append(str(entry))
    return subdirs


def _too_big(file: str) -> SyscallError:
    return SyscallError("EINVAL", f"{file}: larger than {MAX_FILE // 2**20} MiB, more than one apply "
                        "may carry; split it", file=file)


def _read(file: str) -> str:
    try:
        with open(file, "rb") as f:
            raw = f.read(MAX_FILE + 1)
    except OSError as e:
        raise SyscallError("EINVAL", f"{file}: cannot read: {e.strerror or e}", file=file) from None
    if len(raw) > MAX_FILE:
        raise _too_big(file)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise _invalid(file, line, "not UTF-8 text") from None
