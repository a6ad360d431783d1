"""Pages of the experiment and sweep lists: their sizes, and the tokens for the next page."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from scheduler.db.models import ExperimentRow, SweepRow
from scheduler.store.errors import InvalidPageToken

# ListExperimentsRequest.page_size: 0 means the default, more than the maximum means it.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# The tokens handed out are about 110 characters (a time and an id, as base64 JSON).
MAX_PAGE_TOKEN_LENGTH = 512


def encode_page_token(last: ExperimentRow | SweepRow) -> str:
    data = json.dumps([last.created_at.isoformat(), last.id]).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[datetime, str]:
    """The position a token from `encode_page_token` stands for; `InvalidPageToken` otherwise.

    Anything a client sends is refused here rather than in the database: a token longer than
    any handed out, one that decodes to JSON nested past the parser's recursion limit, and a
    time without a zone or beyond the calendar in UTC.
    """
    try:
        if len(token) > MAX_PAGE_TOKEN_LENGTH:
            raise ValueError("too long")
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, last_id = json.loads(data)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        return moment.astimezone(UTC), str(last_id)
    except (binascii.Error, ValueError, TypeError, OverflowError, RecursionError):
        raise InvalidPageToken(
            "page_token is not one this server handed out; "
            "start again from the first page with an empty one"
        ) from None
