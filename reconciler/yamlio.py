"""YAML in and out: safe parsing that never raises on hostile input, and locating a key's line.

Parsing uses libyaml (CSafeLoader) when present; lines are located lazily, only for files that
have something to report, so the common path pays for one parse.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .errors import Issue

try:
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader  # type: ignore[misc]

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64


_MISSING = object()
_IMMUTABLE = (str, int, bool, float, type(None))
_CACHE_LIMIT = 200_000


def _duplicate(key_node: Any, key: Any) -> ConstructorError:
    return ConstructorError(None, None, f"duplicate key {key!r}: a key may appear once", key_node.start_mark)


def _checked_mapping(loader: Any, node: Any, deep: bool) -> Any:
    """PyYAML's mapping construction (merge keys and all), after a duplicate-key check."""
    if isinstance(node, MappingNode):
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise _duplicate(key_node, key_node.value)
                seen.add(key_node.value)
    return SafeConstructor.construct_mapping(loader, node, deep)


def _not_json(what: str, fix: str) -> Any:
    """A constructor that refuses a YAML type JSON (and so the API) has no value for."""

    def construct(loader: Any, node: Any) -> Any:
        raise ConstructorError(None, None, f"{what}: {fix}", node.start_mark)

    return construct


def _date_fix(loader: Any, node: Any) -> Any:
    """Unquoted dates and timestamps: the API takes Unix seconds (join_time) or text, never a date."""
    value = SafeConstructor.construct_yaml_timestamp(loader, node)
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    seconds = int(value.timestamp())
    raise ConstructorError(
        None,
        None,
        f"{node.value!r} is read by YAML as a date; write a time as Unix seconds "
        f"({seconds} for this one, as join_time takes it) or quote it to keep it as text",
        node.start_mark,
    )


def _finite_float(loader: Any, node: Any) -> Any:
    value = SafeConstructor.construct_yaml_float(loader, node)
    if not math.isfinite(value):
        raise ConstructorError(
            None, None, f"{node.value!r} is not a finite number; write a plain number", node.start_mark
        )
    return value


# YAML types with no JSON value: refused with a message instead of crashing later (one table for both loaders)
REFUSED_TAGS: dict[str, Any] = {
    "tag:yaml.org,2002:timestamp": _date_fix,
    "tag:yaml.org,2002:float": _finite_float,
    "tag:yaml.org,2002:binary": _not_json("!!binary is not allowed", "write the value as plain text"),
    "tag:yaml.org,2002:set": _not_json("!!set is not allowed", "write a list: [a, b]"),
    "tag:yaml.org,2002:omap": _not_json("!!omap is not allowed", "write a plain mapping"),
    "tag:yaml.org,2002:pairs": _not_json("!!pairs is not allowed", "write a plain mapping"),
}


class StrictLoader(_Base):  # type: ignore[misc,valid-type]
    """SafeLoader that rejects duplicate keys, and is faster on directory files.

    User files repeat the same keys and many values, so the implicit-tag resolution and the
    construction of plain scalars (immutable results only) are cached; mappings are built in one
    loop. Anything unusual (merge keys, unhashable keys) takes PyYAML's own path.
    """

    _tags: ClassVar[dict[tuple[str, Any], str]] = {}  # shared on purpose: a cache across files
    _scalars: ClassVar[dict[tuple[str, str], Any]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode:
            key = (value, implicit)
            tag = self._tags.get(key)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._tags) < _CACHE_LIMIT:
                    self._tags[key] = tag
            return tag
        return super().resolve(kind, value, implicit)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node.__class__ is ScalarNode:
            key = (node.tag, node.value)
            value = self._scalars.get(key, _MISSING)
            if value is _MISSING:
                value = super().construct_object(node, deep)
                if type(value) in _IMMUTABLE and len(self._scalars) < _CACHE_LIMIT:
                    self._scalars[key] = value
            return value
        return super().construct_object(node, deep)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if not isinstance(node, MappingNode):
            return super().construct_mapping(node, deep)
        data: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                return _checked_mapping(self, node, deep)
            key = self.construct_object(key_node, deep)
            try:
                if key in data:
                    raise _duplicate(key_node, key)
            except TypeError:  # unhashable key: PyYAML's own error
                return super().construct_mapping(node, deep)
            data[key] = self.construct_object(value_node, deep)
        return data


class NoAliasLoader(_Base):  # type: ignore[misc,valid-type]
    """Rejects anchors and aliases (alias bombs) and duplicate keys. PyYAML's plain constructor,
    so that every node's identity is tracked: only used for text containing '*'."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise ConstructorError(
                None, None, "anchors and aliases (& and *) are not allowed in directory files", node.start_mark
            )
        return super().construct_object(node, deep)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        return _checked_mapping(self, node, deep)


for _loader in (StrictLoader, NoAliasLoader):
    for _tag, _construct in REFUSED_TAGS.items():
        _loader.add_constructor(_tag, _construct)


def _too_deep(text: str) -> bool:
    """Cheap pre-check against nesting bombs, which would exhaust the parser's recursion."""
    depth = best = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > best:
                best = depth
        elif ch in "]}":
            depth -= 1
    if best > MAX_DEPTH:
        return True
    indents = {len(line) - len(line.lstrip(" -")) for line in text.splitlines() if line.strip()}
    return len(indents) > MAX_DEPTH


def decode(raw: bytes, path: str) -> tuple[str | None, Issue | None]:
    if len(raw) > MAX_FILE_BYTES:
        return None, Issue(path, None, None, "", f"file is {len(raw):,} bytes; a directory file is at most 1 MiB")
    if b"\x00" in raw:
        return None, Issue(path, None, None, "", "file is binary (it holds NUL bytes); expected YAML text")
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, Issue(path, line, None, "", f"byte {exc.start} is not UTF-8; save the file as UTF-8")


def load_yaml_text(raw: bytes, path: str) -> tuple[Any, Issue | None]:
    """Parse one YAML document; any problem becomes an Issue, never an exception."""
    text, issue = decode(raw, path)
    if issue is not None:
        return None, issue
    assert text is not None
    brackets = text.count("[") + text.count("{")  # C-speed: most files cannot nest deep at all
    if (brackets > MAX_DEPTH or text.count("\n") > 200) and _too_deep(text):
        return None, Issue(path, None, None, "", f"nesting deeper than {MAX_DEPTH} levels; a user file is flat")
    try:
        return yaml.load(text, Loader=NoAliasLoader if "*" in text else StrictLoader), None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        if isinstance(exc, ConstructorError) and mark is not None:  # a value we refuse: name its field
            if what.startswith("could not determine a constructor"):
                what = f"{what.rsplit(' ', 1)[-1]} is not allowed: directory files hold plain YAML values"
            return None, Issue(path, line, col, key_at(text, mark.index), what)
        return None, Issue(path, line, col, "", f"YAML syntax error: {what}")
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        return None, Issue(path, None, None, "", f"YAML error: {type(exc).__name__}: {str(exc)[:200]}")


def locate(text: str, keys: Sequence[str | int]) -> tuple[int | None, int | None]:
    """1-based (line, column) of the deepest existing node on `keys` in `text`."""
    try:
        node = yaml.compose(text, Loader=_Base)
    except (yaml.YAMLError, RecursionError):
        return None, None
    if node is None:
        return None, None
    mark = node.start_mark
    for key in keys:
        if isinstance(node, MappingNode) and isinstance(key, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.value == key:
                    mark, node = key_node.start_mark, value_node
                    break
            else:
                break
        elif isinstance(node, SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
            mark = node.start_mark
        else:
            break
    return mark.line + 1, mark.column + 1


def key_at(text: str, index: int) -> str:
    """The field path (`orders[0].user_order`) of the node that starts at character `index`."""
    try:
        node = yaml.compose(text, Loader=_Base)
    except (yaml.YAMLError, RecursionError):
        return ""

    def walk(node: Any, keys: list[str | int]) -> list[str | int] | None:
        if node.start_mark.index == index and keys:
            return keys
        children: list[tuple[str | int, Any]] = []
        if isinstance(node, MappingNode):
            children = [(str(k.value), v) for k, v in node.value if isinstance(k, ScalarNode)]
        elif isinstance(node, SequenceNode):
            children = list(enumerate(node.value))
        for key, child in children:
            if child.start_mark.index <= index <= child.end_mark.index:
                found = walk(child, [*keys, key])
                if found:
                    return found
        return None

    return field_path(walk(node, []) or []) if node is not None else ""


def field_path(keys: Sequence[str | int]) -> str:
    """`orders[0].department_id` from ('orders', 0, 'department_id')."""
    out = ""
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def dump_yaml(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=None,
        width=120,
    )
