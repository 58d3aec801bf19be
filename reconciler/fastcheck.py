"""A compiled yes/no check of the user schema: the fast path in front of jsonschema.

jsonschema explains every violation but costs about as much as parsing the YAML. Nearly every file
is valid, so `compile_schema` turns the schema into nested closures that answer "valid?" at a
fraction of that cost; jsonschema runs only on files this check does not accept.

Contract: the predicate never accepts a document jsonschema would reject. Where it is unsure (a
float that may be integral, anything unusual) it answers False and jsonschema decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]
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
PY_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: type(v) is str,
    "integer": lambda v: type(v) is int,  # bool is not int here; floats go to jsonschema
    "boolean": lambda v: type(v) is bool,
    "array": lambda v: type(v) is list,
    "object": lambda v: type(v) is dict,
}


def compile_schema(schema: dict[str, Any]) -> Check:
    unknown = set(schema) - SUPPORTED
    if unknown:
        raise ValueError(f"fastcheck does not support {sorted(unknown)}; extend it or drop the fast path")
    checks: list[Check] = []
    kind = schema.get("type")
    if kind is not None:
        checks.append(PY_TYPES[kind])
    if "enum" in schema:
        allowed = schema["enum"]
        checks.append(lambda v: any(type(v) is type(a) and v == a for a in allowed))
    if "minLength" in schema:
        low = schema["minLength"]
        checks.append(lambda v: type(v) is not str or len(v) >= low)
    if "maxLength" in schema:
        high = schema["maxLength"]
        checks.append(lambda v: type(v) is not str or len(v) <= high)
    if "pattern" in schema:
        search = re.compile(schema["pattern"]).search
        checks.append(lambda v: type(v) is not str or search(v) is not None)
    if "minimum" in schema:
        low_n = schema["minimum"]
        checks.append(lambda v: type(v) is not int or v >= low_n)
    if "maximum" in schema:
        high_n = schema["maximum"]
        checks.append(lambda v: type(v) is not int or v <= high_n)
    if "maxItems" in schema:
        most = schema["maxItems"]
        checks.append(lambda v: type(v) is not list or len(v) <= most)
    if schema.get("uniqueItems"):
        checks.append(lambda v: type(v) is not list or len({json.dumps(i, sort_keys=True) for i in v}) == len(v))
    if "items" in schema:
        item = compile_schema(schema["items"])
        checks.append(lambda v: type(v) is not list or all(item(i) for i in v))
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        props = {k: compile_schema(v) for k, v in schema.get("properties", {}).items()}
        required = tuple(schema.get("required", ()))
        closed = schema.get("additionalProperties") is False

        def check_object(v: Any) -> bool:
            if type(v) is not dict:
                return True
            for key in required:
                if key not in v:
                    return False
            for key, value in v.items():
                sub = props.get(key)
                if sub is None:
                    if closed:
                        return False
                elif not sub(value):
                    return False
            return True

        checks.append(check_object)
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)
