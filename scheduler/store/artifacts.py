"""The files a run wrote, and its latest checkpoint: whole, verified content, one row each."""

from __future__ import annotations

import hashlib

from scheduler.db.models import ARTIFACT_NAME_LENGTH, Artifact, Checkpoint
from scheduler.quoting import quote
from scheduler.records import ArtifactRecord
from scheduler.store.errors import NotFound
from scheduler.store.rows import (
    artifact_record,
    artifact_records,
    note_position,
    visible_experiment,
)
from scheduler.store.session import Repository

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class Artifacts(Repository):
    """Artifacts and checkpoints, part of `Store`."""

    def put_artifact(
        self,
        experiment_id: str,
        name: str,
        content: bytes,
        content_type: str = DEFAULT_CONTENT_TYPE,
        *,
        position: int | None = None,
    ) -> ArtifactRecord:
        """Store a file a run wrote, replacing one of the same name."""
        _check_artifact_name(name)
        now = self.now()
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, None, lock=True)
            note_position(experiment, position)
            artifact = session.get(Artifact, (experiment_id, name))
            if artifact is None:
                artifact = Artifact(experiment_id=experiment_id, name=name)
                session.add(artifact)
            artifact.content_type = content_type or DEFAULT_CONTENT_TYPE
            artifact.size = len(content)
            artifact.sha256 = hashlib.sha256(content).hexdigest()
            artifact.stored_at = now
            artifact.content = content
            experiment.updated_at = now
            return artifact_record(artifact)

    def get_artifact(self, experiment_id: str, name: str) -> tuple[ArtifactRecord, bytes]:
        """A stored file's description and content. Check access to the experiment first."""
        with self._reading() as session:
            artifact = session.get(Artifact, (experiment_id, name))
            if artifact is None:
                raise NotFound("artifact", f"{experiment_id}/{name}")
            return artifact_record(artifact), artifact.content

    def list_artifacts(self, experiment_id: str) -> list[ArtifactRecord]:
        with self._reading() as session:
            return list(artifact_records(session, [experiment_id]).get(experiment_id, ()))

    # Checkpoints

    def put_checkpoint(
        self,
        experiment_id: str,
        epoch: int,
        content: bytes,
        sha256: str,
        *,
        position: int | None = None,
    ) -> None:
        """Keep `content` as the experiment's checkpoint after `epoch`, replacing the one before.

        `ValueError` when its SHA-256 is not `sha256`: a checkpoint that arrived damaged
        replaces nothing.
        """
        if hashlib.sha256(content).hexdigest() != sha256:
            raise ValueError(
                f"the checkpoint of epoch {epoch} arrived damaged (its SHA-256 does not match); "
                "the previous checkpoint is kept"
            )
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, None, lock=True)
            note_position(experiment, position)
            checkpoint = session.get(Checkpoint, experiment_id)
            if checkpoint is None:
                checkpoint = Checkpoint(experiment_id=experiment_id)
                session.add(checkpoint)
            checkpoint.epoch = epoch
            checkpoint.size = len(content)
            checkpoint.sha256 = sha256
            checkpoint.stored_at = self.now()
            checkpoint.content = content

    def get_checkpoint(self, experiment_id: str) -> tuple[int, bytes] | None:
        """The latest checkpoint of an experiment: the epochs it holds and its content."""
        with self._reading() as session:
            checkpoint = session.get(Checkpoint, experiment_id)
            if checkpoint is None:
                return None
            return checkpoint.epoch, checkpoint.content


def _check_artifact_name(name: str) -> None:
    parts = name.split("/")
    if (
        not name
        or len(name) > ARTIFACT_NAME_LENGTH
        or "\\" in name
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ValueError(
            f"artifact name {quote(name)} must be a relative path like 'plots/loss.png' of at most "
            f"{ARTIFACT_NAME_LENGTH} characters, without '.', '..', '\\\\' or empty parts"
        )
