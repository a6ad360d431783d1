"""What every request must be before a servicer sees it: decodable, and text a database can store.

Two things a client can send that no servicer should have to think about:

- **A message protobuf cannot decode**: broken bytes, or one nested past protobuf's limit of
  100 levels (a config nested 50 deep is, each JSON level being two messages). gRPC would
  answer UNKNOWN with the decoder's exception class in the message. `tolerant` makes a
  request's decoder hand over an `Undecodable` instead, and `check_request` refuses it as
  INVALID_ARGUMENT naming the field that does not decode (`config`), found by decoding the
  request's top-level fields one at a time.
- **NUL characters in a string field**: Postgres can neither store nor compare them in text,
  so an id or a name holding one would fail in the database. They are refused naming the
  field. (Strings inside a config are stored as JSON, which writes NUL as `\u0000`.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from scheduler.errors import BadRequest

Deserializer = Callable[[bytes], Any]
# The wire types of the protobuf encoding, and how many bytes a fixed-size one takes.
VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5
FIXED_SIZES = {FIXED64: 8, FIXED32: 4}
MAX_VARINT_BITS = 70


@dataclass(frozen=True)
class Undecodable:
    """A request that protobuf refused to decode: its bytes, and its type if known."""

    data: bytes
    message_class: type[Message] | None


def tolerant(deserializer: Deserializer | None) -> Deserializer | None:
    """`deserializer`, returning an `Undecodable` where it would raise `DecodeError`."""
    if deserializer is None:
        return None
    # The generated code's deserializer is the request class's `FromString`.
    message_class = getattr(deserializer, "__self__", None)
    known = message_class if isinstance(message_class, type) else None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError:
            return Undecodable(data, known)

    return deserialize


def check_request(request: Any) -> None:
    """`BadRequest` for an `Undecodable`, or a message with a NUL in one of its strings."""
    if isinstance(request, Undecodable):
        name = _undecodable_field(request) or "(request)"
        raise BadRequest.field(
            name,
            "undecodable",
            f"{name}: cannot be decoded: it is not valid protobuf, or nested more than 100 "
            "messages deep (a config may nest 16 levels of objects and arrays)",
        )
    if not isinstance(request, Message):
        return
    for field, value in request.ListFields():
        if field.type != FieldDescriptor.TYPE_STRING:
            continue
        texts = value if field.is_repeated else [value]
        if any("\x00" in text for text in texts):
            raise BadRequest.field(
                field.name, "nul_character", f"{field.name}: must not contain NUL characters"
            )


def _undecodable_field(request: Undecodable) -> str | None:
    """The top-level message field of the request that fails to decode on its own, if any."""
    if request.message_class is None:
        return None
    fields = request.message_class.DESCRIPTOR.fields_by_number
    data = request.data
    position = 0
    try:
        while position < len(data):
            key, position = _varint(data, position)
            number, wire_type = key >> 3, key & 7
            if wire_type == VARINT:
                _, position = _varint(data, position)
            elif wire_type in FIXED_SIZES:
                position += FIXED_SIZES[wire_type]
            elif wire_type == LENGTH_DELIMITED:
                length, position = _varint(data, position)
                payload = data[position : position + length]
                position += length
                field = fields.get(number)
                if field is not None and field.message_type is not None:
                    try:
                        GetMessageClass(cast(Any, field.message_type)).FromString(payload)
                    except DecodeError:
                        return str(field.name)
            else:
                return None  # groups, or not protobuf at all
    except IndexError:
        return None
    return None


def _varint(data: bytes, position: int) -> tuple[int, int]:
    """The varint at `position` and the position after it."""
    value = shift = 0
    while True:
        if shift >= MAX_VARINT_BITS:
            raise IndexError("a varint longer than 10 bytes")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position
