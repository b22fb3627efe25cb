"""`sparring schema`: the JSON Schema of every bus message, for clients in any language."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sparring.messages import MESSAGES, SCHEMA_VERSION

__all__ = ["main", "write_schemas"]


def write_schemas(out_dir: Path) -> list[Path]:
    """Write `<kind>.schema.json` for every message kind; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, model in MESSAGES.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"sparring/{kind}/v{SCHEMA_VERSION}"
        schema["description"] = (schema.get("description", "") + _WIRE_NOTE).strip()
        path = out_dir / f"{kind}.schema.json"
        path.write_text(json.dumps(schema, indent=2) + "\n")
        written.append(path)
    return written


_WIRE_NOTE = (
    "\n\nOn the bus, messages are msgpack maps with these fields; packed arrays and bytes are "
    "msgpack bin values (base64 strings in JSON)."
)


def main(args: argparse.Namespace) -> int:
    """`sparring schema OUT`."""
    for path in write_schemas(Path(args.out)):
        print(path)
    return 0
