"""What a trainer may register with, checked before anything is stored.

Each rule names its field, so a trainer with a bad setting (or a client typing a request by hand
with grpcurl) is told which one, as any other caller is (`scheduler.errors`).
"""

from __future__ import annotations

from azuraforge.v1 import scheduler_pb2
from scheduler.db.models import TRAINER_ID_LENGTH
from scheduler.errors import BadRequest


def check_registration(request: scheduler_pb2.RegisterTrainerRequest) -> None:
    """`BadRequest` naming the first field of `request` the scheduler cannot use."""
    if not request.address:
        raise BadRequest.field(
            "address", "missing", "address is empty: give host:port where the trainer listens"
        )
    if request.slots < 1:
        raise BadRequest.field(
            "slots", "invalid", f"a trainer needs at least one slot, not {request.slots}"
        )
    if len(request.trainer_id) > TRAINER_ID_LENGTH:
        raise BadRequest.field(
            "trainer_id", "invalid", f"a trainer id has at most {TRAINER_ID_LENGTH} characters"
        )
