"""The time-series family's report sections: the data, the competitors, residuals, scaling.

Each section states the uncomfortable part plainly: a baseline the model does not beat, a
reference model that forecasts better, test targets beyond anything seen in training.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from forge_learner.pipeline import Evaluation, RunContext
from forge_learner.plots import prediction_vs_actual, residual_histogram
from forge_learner.report import ReportSection, format_number, markdown_table
from forge_learner.sources import Series
from forge_learner.timeseries import improvement

from .config import TimeSeriesConfig
from .preparation import PreparedSeries, format_time
from .saved import INPUTS_NAME, TRANSFORM_NAME

if TYPE_CHECKING:
    from .pipeline import Competitor, Forecast

PLOT_STEPS = 336
"""Forecasts in the prediction plot: two weeks of hours, the test period's end; fewer are all."""

_STEP_NAMES = {"h": "hour", "D": "day", "B": "business day", "W-MON": "week", "MS": "month"}


def summary(prepared: PreparedSeries) -> dict[str, str | int | float]:
    """The report's data section: provenance, periods and what was done to gaps."""
    series, split = prepared.series, prepared.split
    steps = len(series)
    found: dict[str, str | int | float] = {
        "source": series.source,
        "description": series.description,
        "series": f"{series.name} in {series.unit}",
        "frequency": f"{series.frequency} (one {step_name(series)} per step)",
        "steps": steps,
        "period": period(series, 0, steps),
        "missing readings": prepared.gaps,
    }
    if len(prepared.columns) > 1:
        found["network inputs"] = ", ".join(prepared.columns)
    found["training period"] = period(series, 0, split.train_end)
    if split.val.size:
        found["validation period"] = period(series, split.train_end, split.test_start)
    found["test period (targets)"] = period(series, split.test_start, steps)
    return found


def competitors_section(
    context: RunContext[Any], prepared: PreparedSeries, result: Forecast, persistence_name: str
) -> ReportSection:
    """The baselines and references beside the model, a verdict on each, and the plot."""
    config, evaluation = context.config, context.evaluation
    series = prepared.series
    step = step_name(series)
    baselines = _table("baseline", series.unit, evaluation, evaluation.baselines, result.baselines)
    shown = min(PLOT_STEPS, len(result.actual))
    ahead = count(config.horizon, step)
    plotted = (
        persistence_name if persistence_name in result.baselines else next(iter(result.baselines))
    )
    plot = prediction_vs_actual(
        result.actual[-shown:],
        result.predicted[-shown:],
        context.run_dir / "prediction.png",
        baselines={plotted: result.baselines[plotted].forecasts[-shown:]},
        index=result.timestamps[-shown:],
        title=f"Forecasts {ahead} ahead: {_shown(shown, len(result.actual), step)}",
        ylabel=f"{series.name} ({series.unit})",
    )
    parts = [
        f"Each forecast is made from the {count(config.lookback, step)} before it, {ahead} "
        f"ahead, for the {len(result.actual)} test targets "
        f"({period(series, prepared.split.test_start, len(series), with_count=False)}). Every "
        "baseline and reference forecasts the very same targets. The model's RMSE is "
        f"{format_number(evaluation.metrics['rmse'])} {series.unit}.",
        baselines,
        _verdicts("baseline", evaluation.metrics, evaluation.baselines)
        + _beyond_training(prepared, result),
    ]
    if evaluation.references:
        parts += [
            "Reference models are simple models fitted on the training part only; they show "
            "what a network's extra cost buys.",
            _table("reference", series.unit, evaluation, evaluation.references, result.references),
            _verdicts("reference", evaluation.metrics, evaluation.references),
        ]
    parts.append(
        f"The plot shows {_shown(shown, len(result.actual), step)}, with the {plotted} "
        "forecast beside the model's."
    )
    return ReportSection("Forecasts against the baselines", "\n\n".join(parts), [plot])


def residuals_section(
    context: RunContext[Any], prepared: PreparedSeries, result: Forecast
) -> ReportSection:
    residuals = result.actual - result.predicted
    unit = prepared.series.unit
    # Rice's rule, 2 n^(1/3) bins: some 24 for a year of hours, 6 for two years of months.
    bins = max(5, round(2 * len(residuals) ** (1 / 3)))
    plot = residual_histogram(residuals, context.run_dir / "residuals.png", bins=bins)
    bias = float(residuals.mean())
    text = (
        f"Actual minus forecast over all {len(residuals)} test targets, in {unit}. Their mean, "
        f"{format_number(bias)} {unit}, is the model's bias (positive: it forecasts too low on "
        f"average; negative: too high); their standard deviation is "
        f"{format_number(float(residuals.std()))} {unit}, and the largest miss is "
        f"{format_number(float(np.abs(residuals).max()))} {unit}."
    )
    return ReportSection("Residuals", text, [plot])


def transform_section(config: TimeSeriesConfig, prepared: PreparedSeries) -> ReportSection:
    series, unit = prepared.series, prepared.series.unit
    steps = []
    if config.log_target:
        steps.append("takes the natural log")
    if config.scaling == "standard":
        steps.append("standardises with the training period's mean and standard deviation")
    elif config.scaling == "minmax":
        steps.append("maps the training period's minimum and maximum to 0 and 1")
    done = " and then ".join(steps) if steps else "leaves the values as they are"
    features = ""
    if prepared.feature_transform is not None:
        features = (
            f" Its other inputs ({', '.join(prepared.columns[1:])}) are standardised with "
            "their own training means and standard deviations."
        )
    text = (
        f"The network sees {series.name} as it comes out of a transform that {done}, fitted on "
        f"the training period only ({period(series, 0, prepared.split.train_end)}), so that "
        f"nothing of the validation or test periods leaks into training.{features} Its "
        f"forecasts go back through the exact inverse into {unit} before any error is "
        f"measured. The fitted target transform is saved as `{TRANSFORM_NAME}` "
        "(`forge_learner.timeseries.transform_from_state` rebuilds it), and the input columns, "
        f"their scaler and the last window of the series as `{INPUTS_NAME}`: with `model.npz` "
        "they forecast the step after the data (`forge_learner.families.time_series."
        "next_forecast_inputs`)."
    )
    return ReportSection("Scaling", text)


def _table(
    kind: str,
    unit: str,
    evaluation: Evaluation,
    scores: dict[str, dict[str, float]],
    competitors: dict[str, Competitor],
) -> str:
    model = evaluation.metrics
    rows = [
        [
            name,
            competitors[name].meaning,
            format_number(values["rmse"]),
            relative(model["rmse"], values["rmse"]),
            format_number(values["mae"]),
            relative(model["mae"], values["mae"]),
        ]
        for name, values in scores.items()
    ]
    headers = [kind, "forecasts", f"its RMSE ({unit})", "the model's RMSE"]
    headers += [f"its MAE ({unit})", "the model's MAE"]
    return markdown_table(headers, rows)


def _verdicts(kind: str, model: dict[str, float], scores: dict[str, dict[str, float]]) -> str:
    """One plain sentence per competitor: does the model beat it on RMSE, and by how much."""
    sentences = []
    for name, values in scores.items():
        theirs = values["rmse"]
        if model["rmse"] < theirs:
            sentences.append(
                f"The model beats the {name} {kind}: its RMSE is {relative(model['rmse'], theirs)}."
            )
        else:
            sentences.append(
                f"The model does not beat the {name} {kind}: its RMSE is "
                f"{relative(model['rmse'], theirs)}, so on this test period the {name} {kind} "
                "is the better forecast."
            )
    return " ".join(sentences)


def _beyond_training(prepared: PreparedSeries, result: Forecast) -> str:
    """A warning when test targets leave the training period's range, which a network that
    forecasts levels through a scaler fitted on that period can hardly reach; else nothing."""
    seen = prepared.target[: prepared.split.train_end]
    low, high = float(seen.min()), float(seen.max())
    outside = int(np.count_nonzero((result.actual < low) | (result.actual > high)))
    if not outside:
        return ""
    return (
        f"\n\n{outside} of the {len(result.actual)} test targets lie outside the range of the "
        f"training period ({format_number(low)} to {format_number(high)} "
        f"{prepared.series.unit}): a network that forecasts levels seldom reaches far beyond "
        "the values it was trained on, while the last-value baselines follow the series anywhere."
    )


def step_name(series: Series) -> str:
    return _STEP_NAMES.get(series.frequency, "step")


def count(number: int, name: str) -> str:
    return f"{number} {name}" if number == 1 else f"{number} {name}s"


def relative(model: float, baseline: float) -> str:
    """The model's error beside another's: "12.3 % lower", "4.0 % higher" or "equal"."""
    gain = improvement(model, baseline)
    if gain == 0:
        return "equal"
    return f"{_percent(abs(gain))} {'lower' if gain > 0 else 'higher'}"


def period(series: Series, start: int, stop: int, *, with_count: bool = True) -> str:
    """The steps ``start`` to ``stop - 1`` of the series: "first to last (n steps)"."""
    first, last = series.timestamps[start], series.timestamps[stop - 1]
    text = f"{format_time(series, first)} to {format_time(series, last)}"
    return f"{text} ({count(stop - start, step_name(series))})" if with_count else text


def _shown(shown: int, total: int, step: str) -> str:
    if shown == total:
        return f"the whole test period ({count(total, step)})"
    return f"the last {count(shown, step)} of the test period"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.1f} %" if math.isfinite(fraction) else str(fraction)
