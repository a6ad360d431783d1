"""``Monitor``: which logged value a callback watches, and what counts as an improvement.

Early stopping, the best checkpoint and plateau schedules all ask the same questions of one
logged value, with Keras's arguments (``monitor``, ``mode``, ``min_delta``).
"""

from __future__ import annotations

import warnings

from forge_learner.events import Logs


class Monitor:
    """Watches ``logs[name]``; ``mode`` "min", "max" or "auto" (max for accuracies)."""

    def __init__(self, name: str, mode: str = "auto", min_delta: float = 0.0) -> None:
        if mode not in ("min", "max", "auto"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in name else "min"
        self.name = name
        self.mode = mode
        self.min_delta = abs(min_delta)
        self._warned = False

    def check(self, user: str, has_validation: bool) -> None:
        """Fail before training when a ``val_`` value is watched but nothing is validated."""
        if self.name.startswith("val_") and not has_validation:
            raise ValueError(
                f"{user} monitors {self.name!r}, but fit() got no validation data: pass "
                f"val=... to fit, or monitor a training value such as {self.name[4:]!r}"
            )

    def value(self, user: str, logs: Logs) -> float | None:
        """The watched value, or None (with a warning, once) when this epoch did not log it."""
        value = logs.get(self.name)
        if value is None and not self._warned:
            self._warned = True
            warnings.warn(
                f"{user} monitors {self.name!r}, which is not in the logs "
                f"(they have {sorted(logs)}); it skips such epochs",
                stacklevel=3,
            )
        return None if value is None else float(value)

    def improved(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta``."""
        if best is None:
            return True
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta
