"""`forge predict ID [--input FILE …] [--json]`: ask a succeeded experiment's model.

Without `--input`, the pipeline's default: a forecaster forecasts the `horizon` steps after
the end of its data, beside its baselines. `--input` sends inputs, read by the file's kind:

- `.csv`: a forecaster's window, one row per step, oldest first, with a header naming the
  series' column (and optionally `timestamp`); numbers are read as numbers.
- `.json`: the inputs as JSON (a list of rows, or of images as rows of pixel values), or an
  object `{"inputs": …}` as the REST API takes it.
- `.png`, `.jpg`, `.jpeg`: an image for an image classifier; repeat `--input` for more.

The answer prints as a table (forecasts) or one line per image (classes); `--json` prints
the prediction as JSON instead, for programs. Exit status as for every client command
(`forge_cli.client`): 2 for inputs the model cannot use (the message names the row or image)
or an experiment that has not succeeded, 4 for one that does not exist.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from azuraforge.v1 import scheduler_pb2
from forge_cli.client import (
    CALL_TIMEOUT_S,
    EXIT_USAGE,
    CommandError,
    add_scheduler_flag,
    connect,
    run_command,
    scheduler_address,
)
from forge_cli.columns import align

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
PREDICT_TIMEOUT_S = max(CALL_TIMEOUT_S, 130.0)
"""The scheduler gives a trainer 120 s: a forecaster may load its series from the source."""
TOP_CLASSES = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="ask a succeeded experiment's model: forecasts, or image classes",
        description=(
            "Predict with a succeeded experiment's model. Without --input a forecaster "
            "forecasts the steps after its data; --input sends a CSV or JSON window, or images."
        ),
    )
    parser.add_argument("experiment_id", metavar="ID")
    add_scheduler_flag(parser)
    parser.add_argument(
        "--input",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="a .csv or .json of inputs, or a .png/.jpg image (repeatable for images)",
    )
    parser.add_argument("--json", action="store_true", help="print the prediction as JSON")
    parser.set_defaults(run=lambda args: run_command("predict", predict, args))


def predict(args: argparse.Namespace) -> int:
    request = prediction_request(args.experiment_id, args.input)
    address = scheduler_address(args.scheduler)
    with connect(address) as connection:
        response: scheduler_pb2.PredictResponse = connection.call(
            connection.scheduler.Predict, request, timeout=PREDICT_TIMEOUT_S
        )
    prediction = json_format.MessageToDict(response.prediction)
    if args.json:
        print(json.dumps(prediction, indent=2))
    elif prediction.get("kind") == "forecast":
        print(forecast_text(prediction))
    elif prediction.get("kind") == "classification":
        images = [path.name for path in args.input if path.suffix.lower() in IMAGE_SUFFIXES]
        print(classification_text(prediction, images))
    else:
        print(json.dumps(prediction, indent=2))
    return 0


def prediction_request(experiment_id: str, files: list[Path]) -> scheduler_pb2.PredictRequest:
    """The request for these input files; a usage error naming a file that cannot be read."""
    request = scheduler_pb2.PredictRequest(experiment_id=experiment_id)
    images = [path for path in files if path.suffix.lower() in IMAGE_SUFFIXES]
    others = [path for path in files if path not in images]
    if others and (images or len(others) > 1):
        raise CommandError(
            "--input: give one .csv or .json file, or any number of images, not a mix",
            EXIT_USAGE,
        )
    for path in images:
        request.images.append(_read(path))
    if others:
        inputs = _inputs(others[0])
        try:
            json_format.ParseDict(inputs, request.inputs)
        except (json_format.ParseError, ValueError) as error:
            raise CommandError(f"--input {others[0]}: {error}", EXIT_USAGE) from None
    return request


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"--input {path}: {error.strerror}", EXIT_USAGE) from None


def _inputs(path: Path) -> Any:
    suffix = path.suffix.lower()
    text = _read(path).decode("utf-8-sig", errors="replace")
    if suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as error:
            raise CommandError(f"--input {path}: not valid JSON ({error})", EXIT_USAGE) from None
        return data["inputs"] if isinstance(data, dict) and "inputs" in data else data
    if suffix == ".csv":
        return csv_rows(text, path)
    raise CommandError(
        f"--input {path}: give a .csv or .json file, or a .png/.jpg image", EXIT_USAGE
    )


def csv_rows(text: str, path: Path) -> list[dict[str, Any]]:
    """The CSV's rows as objects by its header, numbers as numbers, blanks as missing values."""
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames:
        raise CommandError(f"--input {path}: the CSV has no header row", EXIT_USAGE)
    rows = []
    for row in reader:
        if None in row:
            raise CommandError(
                f"--input {path}: line {reader.line_num} has more cells than the header",
                EXIT_USAGE,
            )
        rows.append({key: _cell(value) for key, value in row.items()})
    return rows


def _cell(value: str | None) -> Any:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def forecast_text(prediction: dict[str, Any]) -> str:
    """The forecasts beside the baselines, one row per step, in the series' unit."""
    series = prediction["series"]
    forecast = prediction["forecast"]
    # A Struct keeps no order: the baselines by name, persistence first for the bundled apps.
    baselines = dict(sorted(prediction.get("baselines", {}).items()))
    header = ["TIME", "FORECAST", *(name.upper() for name in baselines)]
    horizon = int(prediction["horizon"])
    rows = [header]
    for i, value in enumerate(forecast["values"]):
        time = forecast["timestamps"][i] or f"+{horizon} steps"
        rows.append([time, _number(value), *(_number(v[i]) for v in baselines.values())])
    if prediction["from"] == "end of data":
        what = f"the {horizon} step(s) after the end of its data"
    else:
        what = f"{horizon} step(s) after the last row of your window"
    return f"{series['name']} in {series['unit']}, {what}:\n" + "\n".join(align(rows))


def classification_text(prediction: dict[str, Any], names: list[str]) -> str:
    """One line per image: its top class and the next likeliest, with probabilities."""
    classes = prediction["classes"]
    lines = []
    for i, item in enumerate(prediction["predictions"]):
        ranked = sorted(range(len(classes)), key=lambda k: item["probabilities"][k], reverse=True)[
            :TOP_CLASSES
        ]
        likeliest = ", ".join(f"{classes[k]} {item['probabilities'][k]:.1%}" for k in ranked)
        name = names[i] if i < len(names) else f"image {i + 1}"
        lines.append(f"{name}: {item['label']} ({likeliest})")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    """A forecast to 4 significant digits; "-" for none (a model that diverged forecasts NaN)."""
    return "-" if value is None or not math.isfinite(value) else f"{value:.4g}"
