"""`forge sweep` and `forge sweeps` against the real stack (two trainers), and their parsing.

The stack runs on its own event loop in a thread (`tests/stack_thread.py`), and the commands
run here through `forge_cli.main.main`, as the console script would run them.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from azuraforge.v1 import experiment_pb2, sweep_pb2
from forge_cli.client import EXIT_NOT_FOUND, EXIT_USAGE, CommandError
from forge_cli.main import main
from forge_cli.sweep import parse_objective, parse_space
from forge_cli.sweep_table import SweepBoard
from tests.stack import ADMIN_PASSWORD
from tests.stack_thread import LiveStack, stack_in_thread
from tests.trainer.probe import Gate
from tests.waiting import wait_until

pytestmark = [pytest.mark.timeout(240)]
SUBMITTED = re.compile(r"Submitted sweep (\S+) ")


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, probe_pipeline: str
) -> Iterator[LiveStack]:
    with stack_in_thread(tmp_path_factory.mktemp("stack"), nats_url, trainers=2) as live:
        yield live


@pytest.fixture
def logged_in(stack: LiveStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FORGE_SCHEDULER_ADDR", stack.address)
    for variable in ("FORGE_TOKEN", "FORGE_TOKEN_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ADMIN_PASSWORD}\n"))
    assert main(["login", "--username", "admin", "--password-stdin"]) == 0
    capsys.readouterr()


def forge(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_watched_grid_sweep_shows_its_trials_and_best_then_lists_and_shows(
    logged_in, capsys
) -> None:
    status, out, err = forge(
        capsys,
        "sweep",
        "trainer_probe",
        "--space",
        "learning_rate=choice:0.01,0.1",
        "--space",
        "batch_size=int:4,5",
        "--grid",
        "--parallel",
        "2",
        "--objective",
        "val_loss:min",
        "--set",
        "epochs=1",
        "--name",
        "cli grid",
        "--watch",
    )

    assert status == 0, err
    match = SUBMITTED.search(out)
    assert match, out
    sweep_id = match[1]
    assert "(trainer_probe, 4 trials, 2 at once)" in out
    assert "Sweep SUCCEEDED" in out
    assert re.search(r"Best: trial #\d \(\S+\), val_loss \d", out)
    # Not a terminal: one line per trial that ends, and the table once, at the end.
    assert len(re.findall(r"^#\s+STATUS", out, re.MULTILINE)) == 1
    assert len(re.findall(r"^trial #\d succeeded$", out, re.MULTILINE)) == 4
    assert re.search(
        r"^\d\*?\s+SUCCEEDED\s+1/1\s+\d\S*\s+-\s+batch_size=5 learning_rate=0.01$", out, re.M
    )

    status, listed, _ = forge(capsys, "sweeps")
    assert status == 0
    assert re.search(
        rf"^{sweep_id}\s+cli grid\s+trainer_probe\s+SUCCEEDED\s+4/4\s+#\d", listed, re.M
    )

    status, shown, _ = forge(capsys, "sweeps", "show", sweep_id)
    assert status == 0
    assert "search          grid, 4 trials, 2 at once" in shown
    assert "epochs          4 spent of 4 in full" in shown
    assert len(re.findall(r"^\d\*?\s+SUCCEEDED\s+1/1", shown, re.MULTILINE)) == 4


def test_cancel_a_sweep_from_the_command_line(
    logged_in, stack: LiveStack, tmp_path, capsys
) -> None:
    gate = Gate(tmp_path / "gate")
    status, out, err = forge(
        capsys,
        "sweep",
        "trainer_probe",
        "--space",
        "learning_rate=loguniform:0.001,0.1",
        "--trials",
        "3",
        "--objective",
        "val_loss",
        "--set",
        f"gate={gate.folder}",
    )
    assert status == 0, err
    sweep_id = SUBMITTED.search(out)[1]  # type: ignore[index]

    def running() -> bool:
        _, shown, _ = forge(capsys, "sweeps", "show", sweep_id)
        return bool(re.search(r"^1\s+RUNNING", shown, re.MULTILINE))

    wait_until(running, 60, "the first trial to run")
    status, out, err = forge(capsys, "sweeps", "cancel", sweep_id)

    assert (status, out) == (0, f"Sweep {sweep_id} is CANCELLED\n"), err
    _, shown, _ = forge(capsys, "sweeps", "show", sweep_id)
    assert re.search(r"^1\s+CANCELLED", shown, re.MULTILINE)
    assert forge(capsys, "sweeps", "show", "no-such-sweep")[0] == EXIT_NOT_FOUND


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--space", "learning_rate=loguniform:0,0.1", "--trials", "2"], "space.learning_rate"),
        (["--space", "learning_rate=normal:0,1", "--trials", "2"], "--space 'learning_rate=normal"),
        (["--space", "learning_rate=uniform:0.1", "--trials", "2"], "takes two values"),
        (["--space", "learning_rate=uniform:0.1,0.2"], "--trials N"),
        (["--space", "learning_rate=uniform:0.1,0.2", "--grid"], "space.learning_rate"),
        (["--space", "batch_size=int:1,4", "--grid", "--asha", "--grace", "5"], "grace_epochs"),
    ],
)
def test_a_bad_sweep_is_refused_naming_what_is_wrong(logged_in, capsys, flags, words) -> None:
    status, _, err = forge(capsys, "sweep", "trainer_probe", "--objective", "val_loss:min", *flags)

    assert status == EXIT_USAGE
    assert err.startswith("forge sweep: ")
    assert words in err


def test_space_flags_read_as_json_where_they_can():
    assert parse_space(["lr=loguniform:0.0005,0.05", "opt=choice:adam,sgd", "n=int:1,4"]) == {
        "lr": {"loguniform": [0.0005, 0.05]},
        "opt": {"choice": ["adam", "sgd"]},
        "n": {"int": [1, 4]},
    }
    assert parse_objective("accuracy:max") == sweep_pb2.Objective(metric="accuracy", mode="max")
    assert parse_objective("val_loss").mode == "min"
    with pytest.raises(CommandError):
        parse_objective("val_loss:lowest")


def test_the_board_redraws_the_table_in_place_on_a_terminal():
    sweep = sweep_pb2.Sweep(sweep_id="s")
    sweep.spec.objective.metric = "val_loss"
    sweep.spec.config.update({"epochs": 3})
    out = io.StringIO()
    board = SweepBoard(sweep, out, tty=True)
    trial = sweep_pb2.SweepTrial(
        number=1, status=experiment_pb2.EXPERIMENT_STATUS_RUNNING, epochs_done=1, objective=0.5
    )
    trial.settings.update({"learning_rate": 0.01})
    board.show(sweep_pb2.SweepEvent(trial_changed=sweep_pb2.SweepTrialChanged(trial=trial)))
    first = out.getvalue()
    trial.epochs_done = 2
    board.show(sweep_pb2.SweepEvent(trial_changed=sweep_pb2.SweepTrialChanged(trial=trial)))

    assert first.splitlines() == [
        "#  STATUS   EPOCH  VAL_LOSS  RUNG  SETTINGS",
        "1  RUNNING  1/3    0.5       -     learning_rate=0.01",
    ]
    assert out.getvalue()[len(first) :].startswith("\x1b[2F\x1b[J#  STATUS")
    assert "2/3" in out.getvalue()
