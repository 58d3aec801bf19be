"""The user schema (schemas/user.schema.json, generated from the API docs) and its fast check.

Nearly every file is valid, so each is first checked by fastjsonschema's compiled validator (a
yes/no, in the parsing workers); jsonschema (validate.schema_issues) runs only on the files it
refuses, to explain every violation. fastjsonschema over hand-written code: it implements the same
JSON Schema semantics as jsonschema (`1.0` is an integer, `true` is not), and is maintained.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from . import bundled


@lru_cache(maxsize=1)
def user_schema() -> dict[str, Any]:
    return json.loads((bundled("schemas") / "user.schema.json").read_text("utf-8"))


@lru_cache(maxsize=1)
def schema_accepts() -> Callable[[Any], bool]:
    """True when the document is valid under the user schema (jsonschema would find nothing)."""
    import fastjsonschema

    check = fastjsonschema.compile(user_schema())

    def accepts(doc: Any) -> bool:
        try:
            check(doc)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return True

    return accepts
