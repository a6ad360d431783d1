"""Sweeps: search a pipeline's settings over the trainer pool, with ASHA early stopping.

Its parts, each one concept: `space` (what each setting may draw, checked against the
pipeline's JSON Schema), `search` (grid or seeded random draws), `asha` (the rung rule), `plan`
(a submitted sweep checked whole, its trials drawn), `runner` (trials submitted, followed,
judged and stopped in the scheduler), `watch` (WatchSweep's gap-free stream), `convert`
(records as messages) and `service` (the thin `SweepService`).
"""
