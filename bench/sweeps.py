"""ASHA against training every config in full, on the weather forecaster (docs/benchmarks.md).

The question a sweep with early stopping must answer: does stopping the trials that fall
behind find a config as good as training them all, for much less training? This benchmark
draws `--trials` configs from a space of the weather forecaster's settings, exactly as a
sweep draws them (`scheduler.sweeps.space` checks the space against the pipeline's schema,
`scheduler.sweeps.search.random_draws` draws with the seed), and then:

- **ASHA**: trains them one after another in this process, each with the `epochs` of the base
  config at most; when an epoch that is a rung ends, `scheduler.sweeps.asha.decide` (the code
  the scheduler runs) judges the trial against those that reached the rung before it, and a
  trial left behind is stopped there (`Learner.stop`), as a trainer stops it. The best
  objective is the sweep's: the best `val_loss` any trial reached at its last epoch;
- **in full**: trains every config for all its epochs; the best objective is the best final
  `val_loss`.

It runs in-process, not through the scheduler and two trainers: on the 2-core development
machines the stack would add its own overhead to every run and make the timings noisy, while
the epochs spent and the objectives are the same (the trials are seeded, so a trial's first
epochs are identical whether it is stopped after them or not — the benchmark checks this, and
prints the largest difference between an ASHA trial's curve and the same config's full curve).
Trials run one at a time, the order in which an asynchronous sweep with `parallelism` 1 sees
them reach each rung.

    .venv/bin/python bench/sweeps.py                  # 16 trials of 9 epochs, grace 1, eta 3
    .venv/bin/python bench/sweeps.py --trials 8 --epochs 3 --json out.json
    .venv/bin/python bench/sweeps.py --replay out.json   # other grace/eta, from its curves

It prints a row per trial and the goals: ASHA's best objective within 2 % of the best in full,
for at most half of the epochs; the exit status is 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# One BLAS thread per run, as a trainer runs each job (FORGE_TRAINER_THREADS defaults to 1).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

from forge_learner import Callback, Logs  # noqa: E402
from forge_learner.config import config_json_schema  # noqa: E402
from forge_learner.registry import get_pipeline  # noqa: E402
from scheduler.sweeps.asha import decide, rungs  # noqa: E402
from scheduler.sweeps.search import random_draws  # noqa: E402
from scheduler.sweeps.space import parse_space  # noqa: E402

PIPELINE = "weather_forecaster"
SPACE: dict[str, Any] = {
    "learning_rate": {"loguniform": [0.0003, 0.05]},
    "hidden_size": {"choice": [4, 8, 16, 32]},
    "model": {"choice": ["lstm", "gru"]},
}
METRIC = "val_loss"
# The goals of issue #15.
WITHIN = 0.02
EPOCH_SHARE = 0.5


@dataclass
class Trial:
    number: int
    settings: dict[str, Any]
    asha_curve: list[float] = field(default_factory=list)
    full_curve: list[float] = field(default_factory=list)
    asha_seconds: float = 0.0
    full_seconds: float = 0.0
    stop_reason: str = ""


class Curve(Callback):
    """Records the objective at each epoch's end and, with ASHA, stops a trial left behind."""

    def __init__(
        self, curve: list[float], asha: tuple[list[int], int, dict[int, list[float]]] | None
    ) -> None:
        self.curve = curve
        self.asha = asha
        self.stop_reason = ""

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        value = float(logs[METRIC])
        self.curve.append(value)
        if self.asha is None:
            return
        rung_epochs, eta, reached = self.asha
        done = epoch + 1
        if done not in rung_epochs:
            return
        rung = rung_epochs.index(done)
        decision = decide(
            rung=rung,
            epoch=done,
            objective=value,
            earlier=reached.setdefault(rung, []),
            reduction_factor=eta,
            mode="min",
            metric=METRIC,
        )
        reached[rung].append(value)
        if not decision.promoted:
            self.stop_reason = decision.reason
            self.learner.stop(decision.reason)


def train(config: dict[str, Any], callback: Curve) -> float:
    """Run the pipeline as a trainer runs it; the seconds it took."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        get_pipeline(PIPELINE)().run(config, callbacks=[callback], run_dir=Path(run_dir))
    return time.perf_counter() - started


def replay(curves: list[list[float]], grace: int, eta: int) -> tuple[float, int]:
    """ASHA's best objective and epochs over recorded full curves, trials in order.

    Exact for seeded trials: a trial's first epochs are the same whether or not it is stopped
    after them (the main run checks this), so this is what a real run with `grace` and `eta`
    would find, without training again.
    """
    epochs = len(curves[0])
    rung_epochs = rungs(grace, eta, epochs)
    reached: dict[int, list[float]] = {}
    best, spent = float("inf"), 0
    for curve in curves:
        last = epochs
        for rung, epoch in enumerate(rung_epochs):
            value = curve[epoch - 1]
            earlier = reached.setdefault(rung, [])
            decision = decide(
                rung=rung,
                epoch=epoch,
                objective=value,
                earlier=earlier,
                reduction_factor=eta,
                mode="min",
                metric=METRIC,
            )
            earlier.append(value)
            if not decision.promoted:
                last = epoch
                break
        spent += last
        best = min(best, curve[last - 1])
    return best, spent


def print_replays(path: Path) -> None:
    """The goals for other ASHA settings, replayed over a run's full curves."""
    curves = [trial["full_curve"] for trial in json.loads(path.read_text())["trials"]]
    full_best = min(curve[-1] for curve in curves)
    total = sum(len(curve) for curve in curves)
    print(f"replayed over the full curves of {path} ({len(curves)} trials, {total} epochs)")
    print(f"{'grace':>5} {'eta':>4} {'best':>9} {'gap':>7} {'epochs':>7}")
    for grace in (1, 2, 3):
        for eta in (2, 3, 4):
            if not rungs(grace, eta, len(curves[0])):
                continue
            best, spent = replay(curves, grace, eta)
            print(
                f"{grace:>5} {eta:>4} {best:>9.5f} {best / full_best - 1:>+7.1%} "
                f"{spent / total:>7.0%}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0, help="the sweep's seed (draws)")
    parser.add_argument("--grace", type=int, default=1)
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument(
        "--source",
        default="seattle-weather",
        help="the forecaster's data source (default: the bundled Seattle observations)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--replay",
        type=Path,
        metavar="JSON",
        help="train nothing: replay other ASHA settings over the full curves of an earlier --json",
    )
    args = parser.parse_args(argv)
    if args.replay is not None:
        print_replays(args.replay)
        return 0

    schema = config_json_schema(get_pipeline(PIPELINE).Config)
    space = parse_space(SPACE, schema)
    base = {"epochs": args.epochs, "source": args.source}
    trials = [
        Trial(number, settings)
        for number, settings in enumerate(random_draws(space, args.seed, args.trials), start=1)
    ]
    rung_epochs = rungs(args.grace, args.eta, args.epochs)
    print(f"{len(trials)} trials of {args.epochs} epochs; ASHA rungs at epochs {rung_epochs}")

    reached: dict[int, list[float]] = {}
    for trial in trials:
        callback = Curve(trial.asha_curve, (rung_epochs, args.eta, reached))
        trial.asha_seconds = train({**base, **trial.settings}, callback)
        trial.stop_reason = callback.stop_reason
    for trial in trials:
        trial.full_seconds = train({**base, **trial.settings}, Curve(trial.full_curve, None))

    print(f"\n{'#':>3}  {'settings':<52} {'ASHA epochs':>11} {'ASHA last':>10} {'full final':>10}")
    for trial in trials:
        settings = " ".join(f"{k}={v}" for k, v in trial.settings.items())
        print(
            f"{trial.number:>3}  {settings:<52} {len(trial.asha_curve):>11} "
            f"{trial.asha_curve[-1]:>10.5f} {trial.full_curve[-1]:>10.5f}"
        )
    asha_best = min(trial.asha_curve[-1] for trial in trials)
    full_best = min(trial.full_curve[-1] for trial in trials)
    asha_epochs = sum(len(trial.asha_curve) for trial in trials)
    full_epochs = sum(len(trial.full_curve) for trial in trials)
    asha_seconds = sum(trial.asha_seconds for trial in trials)
    full_seconds = sum(trial.full_seconds for trial in trials)
    drift = max(
        abs(a - f)
        for trial in trials
        for a, f in zip(trial.asha_curve, trial.full_curve, strict=False)
    )
    gap = asha_best / full_best - 1
    share = asha_epochs / full_epochs
    print(
        f"\nbest {METRIC}: ASHA {asha_best:.5f}, in full {full_best:.5f} "
        f"({gap:+.2%}; goal within {WITHIN:.0%})\n"
        f"epochs: ASHA {asha_epochs} of {full_epochs} ({share:.0%}; goal at most "
        f"{EPOCH_SHARE:.0%})\n"
        f"seconds: ASHA {asha_seconds:.0f}, in full {full_seconds:.0f} "
        f"({asha_seconds / full_seconds:.0%})\n"
        f"largest difference between an ASHA trial's epochs and the same config's: {drift:.2g}"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "trials": [asdict(trial) for trial in trials],
                    "asha_best": asha_best,
                    "full_best": full_best,
                    "asha_epochs": asha_epochs,
                    "full_epochs": full_epochs,
                },
                indent=1,
            )
        )
    met = gap <= WITHIN and share <= EPOCH_SHARE
    print("goals met" if met else "goal missed")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
