"""Messages as JSON, the one form every REST body and WebSocket message takes.

Protobuf's own mapping (`json_format`), keeping the `.proto` field names (`experiment_id`, as
`grpcurl` users and the OAuth2 token response spell them), printing zero values (a pending
experiment shows `"epochs_done": 0`), and 64-bit integers as JSON numbers where JavaScript
reads them exactly (`"seq": 12`). Protobuf's JSON parsers read this form back, so it is the
protobuf JSON form of each message (docs/api.md#json).
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message


def to_json(message: Message) -> dict[str, Any]:
    """`message` in the protobuf JSON form described in the module docstring."""
    return json_format.MessageToDict(
        message,
        always_print_fields_with_no_presence=True,
        preserving_proto_field_name=True,
        unquote_int64_if_possible=True,
    )


def json_text(message: Message) -> str:
    """`to_json` serialised, for WebSocket frames."""
    return json.dumps(to_json(message), separators=(",", ":"))
