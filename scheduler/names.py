"""What an experiment may be called: the one place that decides whether a name is usable.

A name is the owner's label for a run ("baseline, 2 layers"), shown wherever the experiment
is listed instead of only its pipeline and id. It is free text with three rules, kept here so
that a submission and a rename answer the same mistake the same way:

- surrounding whitespace is trimmed, so " a " and "a" are one name, and a name of spaces
  alone is no name (empty, which is what unnamed experiments have);
- at most `MAX_NAME_LENGTH` characters after trimming, short enough to fit a list row;
- no control characters (newlines, tabs, escapes), which would break a table row or a
  terminal.
"""

from __future__ import annotations

import unicodedata

from scheduler.errors import BadRequest
from scheduler.quoting import quote

MAX_NAME_LENGTH = 100
"""Characters (code points), counted after trimming: the `name` column's size too."""


def check_name(name: str, field: str = "name") -> str:
    """`name` trimmed, or `BadRequest` naming `field` and the rule it breaks."""
    trimmed = name.strip()
    if len(trimmed) > MAX_NAME_LENGTH:
        raise BadRequest.field(
            field,
            "max_length",
            f"{field}: must be at most {MAX_NAME_LENGTH} characters, got {len(trimmed)}",
        )
    if any(unicodedata.category(character) == "Cc" for character in trimmed):
        raise BadRequest.field(
            field,
            "control_character",
            f"{field}: must not contain control characters such as newlines or tabs, "
            f"got {quote(trimmed)}",
        )
    return trimmed
