"""A compiled yes/no check of the user schema: the fast path in front of jsonschema.

jsonschema explains every violation but costs about as much as parsing the YAML. Nearly every file
is valid, so `compile_schema` generates straight-line Python for the schema (one small function
per schema node, the way fastjsonschema does) that answers "valid?" at a fraction of that cost;
jsonschema runs only on files this check does not accept.

Contract: the predicate never accepts a document jsonschema would reject. Where it is unsure (a
float that may be integral, anything unusual) it answers False and jsonschema decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

SUPPORTED = {
    "type",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "maxItems",
    "uniqueItems",
    "items",
    "properties",
    "additionalProperties",
    "required",
    "description",
    "$schema",
    "$id",
    "title",
    "$defs",
}
# bool is not int here, and floats go to jsonschema: stricter than the schema, never looser
# keyword: (the Python type it constrains, the comparison that fails it)
BOUNDS = {
    "minLength": ("str", "len(v) < {}"),
    "maxLength": ("str", "len(v) > {}"),
    "minimum": ("int", "v < {}"),
    "maximum": ("int", "v > {}"),
    "maxItems": ("list", "len(v) > {}"),
}
PY_TYPE = {"string": "str", "integer": "int", "boolean": "bool", "array": "list", "object": "dict"}


class _Generator:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {"json": json}
        self.count = 0

    def const(self, value: Any) -> str:
        name = f"C{len(self.consts)}"
        self.consts[name] = value
        return name

    def function(self, schema: dict[str, Any]) -> str:
        """Emit a function checking `schema`; return its name."""
        unknown = set(schema) - SUPPORTED
        if unknown:
            raise ValueError(f"fastcheck does not support {sorted(unknown)}; extend it or drop the fast path")
        self.count += 1
        name = f"check_{self.count}"
        body: list[str] = []
        kind = schema.get("type")
        if kind is not None:
            body.append(f"if type(v) is not {PY_TYPE[kind]}: return False")
        if "enum" in schema:
            allowed = self.const(tuple((type(a), a) for a in schema["enum"]))
            body.append(f"if (type(v), v) not in {allowed}: return False")
        for keyword, (py_type, failing) in BOUNDS.items():
            if keyword in schema:
                body.append(f"if type(v) is {py_type} and {failing.format(int(schema[keyword]))}: return False")
        if "pattern" in schema:
            search = self.const(re.compile(schema["pattern"]).search)
            body.append(f"if type(v) is str and {search}(v) is None: return False")
        if schema.get("uniqueItems"):
            body.append(
                "if type(v) is list and len({json.dumps(i, sort_keys=True) for i in v}) != len(v): return False"
            )
        if "items" in schema:
            item = self.function(schema["items"])
            body.append("if type(v) is list:")
            body.append("    for i in v:")
            body.append(f"        if not {item}(i): return False")
        if "properties" in schema or "required" in schema or "additionalProperties" in schema:
            props = self.const({k: None for k in schema.get("properties", {})})
            for key, sub in schema.get("properties", {}).items():
                self.consts[props][key] = self.function(sub)
            body.append("if type(v) is dict:")
            for key in schema.get("required", ()):
                body.append(f"    if {key!r} not in v: return False")
            body.append("    for k, x in v.items():")
            body.append(f"        f = {props}.get(k)")
            if schema.get("additionalProperties") is False:
                body.append("        if f is None: return False")
            else:
                body.append("        if f is None: continue")
            body.append("        if not f(x): return False")
        self.lines.append(f"def {name}(v):")
        self.lines.extend("    " + line for line in body)
        self.lines.append("    return True")
        self.lines.append("")
        return name

    def build(self, schema: dict[str, Any]) -> Callable[[Any], bool]:
        top = self.function(schema)
        namespace: dict[str, Any] = dict(self.consts)
        exec(compile("\n".join(self.lines), "<fastcheck>", "exec"), namespace)  # code we generated above
        for table in self.consts.values():  # property tables hold function names until now
            if isinstance(table, dict) and all(isinstance(v, str) for v in table.values()):
                for key, fn in table.items():
                    table[key] = namespace[fn]
        return namespace[top]  # type: ignore[no-any-return]


def compile_schema(schema: dict[str, Any]) -> Callable[[Any], bool]:
    """A predicate: True means the document is valid against `schema`."""
    return _Generator().build(schema)
