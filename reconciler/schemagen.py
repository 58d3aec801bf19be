"""Derive schemas/user.schema.json from the doc pages kept in schemas/docs/.

    python -m reconciler.schemagen            # rewrite the committed schema
    python -m reconciler.schemagen --check    # exit 1 if it differs from the committed file

The PATCH page ("修改用户部分信息") is the source: its request-body table gives every field, its
type, whether it is required and, in the description, lengths, enums and item limits; its
request-body example gives the nesting of the records (orders, custom_attrs.value.generic_user),
which the table flattens. The deprecated PUT page is read for its field list only, so that a
field it documents and the PATCH page dropped would be noticed. Constraints that only prose
states go in OVERLAY, each citing its sentence.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "schemas" / "docs"
PATCH_PAGE = DOCS / "patch-user.md"
PUT_PAGE = DOCS / "update-user-put.md"
SCHEMA_PATH = ROOT / "schemas" / "user.schema.json"

INT32_MAX = 2**31 - 1
HANDLE_REF = r"^@[A-Za-z0-9][A-Za-z0-9._-]*$"

TYPES = {
    "string": {"type": "string"},
    "int": {"type": "integer"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "string[]": {"type": "array", "items": {"type": "string"}},
}


@dataclass
class Row:
    name: str
    type: str
    required: bool
    description: str
    children: list[Row] = field(default_factory=list)


def _section(text: str, start: str, end_prefix: str) -> str:
    begin = text.index(start)
    rest = text[begin + len(start) :]
    stop = rest.find(end_prefix)
    return rest if stop < 0 else rest[:stop]


def parse_table_rows(section: str) -> list[tuple[str, str, str, str]]:
    """Rows `name | type | required | description` of a pipe table whose cells may span lines."""
    rows: list[list[str]] = []
    for line in section.splitlines():
        match = re.match(r"^\|?\s*([a-z_]+)\s*\|\s*([A-Za-z_\\\[\]]+)\s*\|\s*(是|否)\s*\|(.*)$", line)
        if match:
            rows.append([match.group(1), match.group(2), match.group(3), match.group(4)])
        elif rows and line.strip() and not line.startswith(("名称", "---", "| 参数名", "| ---", "#")):
            rows[-1][3] += "\n" + line
    return [(n, t.replace("\\", ""), r, d.strip().rstrip("|").strip()) for n, t, r, d in rows]


def request_example(text: str) -> dict[str, Any]:
    """The JSON request-body example of the PATCH page: the nesting of the records."""
    block = _section(text, "### 请求体示例", "## 响应")
    return json.loads(block[block.index("{") : block.rindex("}") + 1])


def nest(flat: list[tuple[str, str, str, str]], example: dict[str, Any]) -> list[Row]:
    """Rebuild the tree the table flattens, using the example's keys as each record's members."""
    top: list[Row] = []
    # each frame: (rows list to append to, names still expected or None for top level)
    stack: list[tuple[list[Row], set[str] | None, Any]] = [(top, None, example)]
    for name, type_, required, desc in flat:
        while True:
            rows, expected, shape = stack[-1]
            if expected is None or name in expected:
                break
            stack.pop()
        if expected is not None:
            expected.discard(name)
        row = Row(name, type_, required == "是", desc)
        rows.append(row)
        value = shape.get(name) if isinstance(shape, dict) else None
        if isinstance(value, list) and value and isinstance(value[0], dict):
            value = value[0]
        if isinstance(value, dict):
            stack.append((row.children, set(value), value))
    return top


def _enum(desc: str, type_: str) -> list[tuple[Any, str]]:
    """Pairs (value, meaning) listed under 可选值有 in a description."""
    if "可选值有" not in desc:
        return []
    tail = desc.split("可选值有", 1)[1]
    found = re.findall(r"(?:^|\n)\s*-?\s*([A-Za-z0-9_]+)：([^\n]*)", tail)
    out: list[tuple[Any, str]] = []
    for raw, meaning in found:
        if type_ in ("int", "integer") and raw.lstrip("-").isdigit():
            out.append((int(raw), meaning.strip().rstrip("。").strip()))
        elif type_ == "string" and raw.isupper():
            out.append((raw, meaning.strip().rstrip("。").strip()))
    return out


def _summary(desc: str) -> str:
    first = desc.split("\n", 1)[0].strip()
    first = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", first)
    return first.replace("**", "").strip()


def row_schema(row: Row) -> dict[str, Any]:
    desc = row.description
    if row.children:
        item = {
            "type": "object",
            "additionalProperties": False,
            "properties": {c.name: row_schema(c) for c in row.children},
        }
        required = [c.name for c in row.children if c.required]
        if required:
            item["required"] = required
        schema: dict[str, Any] = {"type": "array", "items": item} if row.type.endswith("[]") else item
    else:
        schema = dict(TYPES[row.type])
        if row.type == "string[]":
            schema["items"] = dict(schema["items"])
    schema = {"description": _summary(desc), **schema}
    for pattern in (r"长度不能超过\s*(\d+)\s*字符", r"字符长度上限为\s*(\d+)", r"字符数量上限为\s*(\d+)"):
        match = re.search(pattern, desc)
        if match:
            schema["maxLength"] = int(match.group(1))
    match = re.search(r"最小长度：`(\d+)`", desc)
    if match:
        schema["minLength"] = int(match.group(1))
    match = re.search(r"最多可归属\s*(\d+)\s*个", desc)
    if match:
        schema["maxItems"] = int(match.group(1))
    if "不能超出 int 的最大值" in desc:
        schema["minimum"] = -INT32_MAX - 1
        schema["maximum"] = INT32_MAX
    values = _enum(desc, row.type)
    if values:
        schema["enum"] = [v for v, _ in values]
        schema["description"] += " " + "; ".join(f"{v}: {m}" for v, m in values)
    return schema


# Constraints the prose states but the table does not, each with the sentence it comes from.
OVERLAY: dict[str, dict[str, Any]] = {
    # "该参数支持读取自定义的员工类型的 int 值" — custom employee types are ints beyond 1-5,
    # so the listed values are documentation, not an enum.
    "employee_type": {"enum": None, "minimum": 1},
    # "修改用户信息传入 0 时，入职时间则会置空。"
    "join_time": {"minimum": 0, "maximum": INT32_MAX},
    # "国际电话区号的前缀中，必须包含加号 +" / "中国大陆手机号：13011111111 或 +8613011111111";
    # "" is allowed: declaring the empty value is how a field is cleared
    "mobile": {"pattern": r"^$|^(\+[1-9][0-9]{4,19}|1[0-9]{10})$"},
    # 41005 "email is invalid error"
    "email": {"pattern": r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"},
    "enterprise_email": {"pattern": r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$"},
    # "一个用户可属于多个部门。最多可归属 50 个部门。" (41033); a department listed twice is a typo
    "department_ids": {"uniqueItems": True, "items": {"type": "string", "minLength": 1}},
    "dotted_line_leader_user_ids": {"uniqueItems": True, "items": {"type": "string", "minLength": 1}},
    "subscription_ids": {"uniqueItems": True, "items": {"type": "string", "minLength": 1}},
    # 41030 "set leader to oneself error": a leader is another user's id or an @handle
    "leader_user_id": {"minLength": 1},
}


def build_schema(patch_text: str, put_text: str) -> dict[str, Any]:
    table = _section(patch_text, "### 请求体", "### 请求体示例")
    rows = nest(parse_table_rows(table), request_example(patch_text))
    properties: dict[str, Any] = {
        "user_id": {
            "description": "The user's id in the configured user_id_type (default open_id). Omit it for a "
            "new hire: the person is created (创建用户). 41043: 'user_id 的取值长度不能超过 64 个字符'.",
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
        }
    }
    for row in rows:
        schema = row_schema(row)
        for key, value in OVERLAY.get(row.name, {}).items():
            if value is None:
                schema.pop(key, None)
            else:
                schema[key] = value
        properties[row.name] = schema
    put_fields = [n for n, *_ in parse_table_rows(_section(put_text, "### 请求体", "**类型额外说明**"))]
    missing = [n for n in put_fields if n not in properties]
    if missing:
        raise SystemExit(f"fields of the PUT page missing from the PATCH page: {missing}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/feishu-directory-reconciler/schemas/user.schema.json",
        "title": "Feishu directory user",
        "description": "One user of directory/users/<handle>.yaml. Generated by "
        "`python -m reconciler.schemagen` from schemas/docs/; do not edit by hand. "
        "References: '@handle' (another user file) in leader_user_id and "
        "dotted_line_leader_user_ids; '@alias' (directory/departments.yaml) in "
        "department_ids and orders[].department_id.",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "$defs": {"handle_ref": {"type": "string", "pattern": HANDLE_REF}},
    }


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def generate() -> str:
    return render_schema(build_schema(PATCH_PAGE.read_text("utf-8"), PUT_PAGE.read_text("utf-8")))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = generate()
    if "--check" in argv:
        if SCHEMA_PATH.read_text("utf-8") != text:
            print(f"{SCHEMA_PATH} is out of date: run python -m reconciler.schemagen", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text, "utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
