"""docs/api.md's reference part, generated from the OpenAPI document
(`make api-docs` writes docs/openapi.json and it; a test checks both)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._control_openapi import openapi_json

__all__ = ["api_markdown", "api_page", "main"]


def api_markdown(document: dict[str, Any]) -> str:
    """The endpoint reference of docs/api.md, generated from `document`."""
    out = [
        "<!-- Generated from docs/openapi.json by `make api-docs`; do not edit. -->",
        "",
        "## Endpoints",
        "",
    ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            out += [f"### `{method.upper()} {path}`", "", operation["summary"] + ".", ""]
            if "description" in operation:
                out += [operation["description"], ""]
            parameters = operation.get("parameters", [])
            if parameters:
                out += ["| parameter | in | |", "|---|---|---|"]
                for parameter in parameters:
                    text = parameter.get("description", "")
                    schema = parameter["schema"]
                    kind = schema.get("type") or " or ".join(map(str, schema.get("enum", [])))
                    out.append(f"| `{parameter['name']}` ({kind}) | {parameter['in']} | {text} |")
                out.append("")
            out += ["| status | answer |", "|---|---|"]
            for status, response in operation["responses"].items():
                kinds = ", ".join(f"`{k}`" for k in response.get("content", {}))
                out.append(f"| {status} | {response['description']} {kinds} |".replace("  ", " "))
            out.append("")
    out += ["## Errors every endpoint may answer", "", "| status | when |", "|---|---|"]
    out += [f"| {status} | {text} |" for status, text in document["x-common-errors"].items()]
    out += ["", "## Objects", ""]
    for name, schema in document["components"]["schemas"].items():
        out += [f"### {name}", ""]
        if "description" in schema:
            out += [schema["description"], ""]
        out += ["| field | type | |", "|---|---|---|"]
        for field, spec in schema["properties"].items():
            out.append(f"| `{field}` | {_type(spec)} | {spec.get('description', '')} |")
        out.append("")
    return "\n".join(out)


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "oneOf" in schema:
        return " or ".join(_type(s) for s in schema["oneOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema['items'])}"
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def main(docs: Path = Path("docs")) -> None:
    """Write docs/openapi.json and the generated part of docs/api.md."""
    (docs / "openapi.json").write_text(openapi_json(), encoding="utf-8")
    (docs / "api.md").write_text(api_page(docs), encoding="utf-8")


MARK = "<!-- Generated from docs/openapi.json"


def api_page(docs: Path) -> str:
    """docs/api.md: its hand-written part (everything before the generated
    part), then the reference generated from docs/openapi.json."""
    current = (docs / "api.md").read_text(encoding="utf-8") if (docs / "api.md").exists() else ""
    head = current.split(MARK, 1)[0]
    document = json.loads((docs / "openapi.json").read_text(encoding="utf-8"))
    return head + api_markdown(document)
