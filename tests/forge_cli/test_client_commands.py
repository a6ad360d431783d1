"""`forge login`, `forge submit --watch` and `forge experiments` against the real stack.

The stack (`tests/stack.py`: NATS, a scheduler on SQLite, one trainer running the quick
`trainer_probe` pipeline) runs on its own event loop in a thread (`tests/stack_thread.py`), and
the commands run here through `forge_cli.main.main`, as the console script would run them, each
with a fresh config folder for its saved login.
"""

from __future__ import annotations

import io
import json
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from azuraforge.statuses import status_name
from forge_cli import submit as submit_module
from forge_cli.client import (
    EXIT_AUTH,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from forge_cli.main import main
from forge_cli.up import free_port
from forge_learner.registry import Discovery
from tests.stack import ADMIN_PASSWORD, TERMINAL
from tests.stack_thread import LiveStack, stack_in_thread

ID = re.compile(r"Submitted experiment (\S+) \(trainer_probe\)")


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, nats_url: str, probe_pipeline: str
) -> Iterator[LiveStack]:
    with stack_in_thread(tmp_path_factory.mktemp("stack"), nats_url) as live:
        yield live


@pytest.fixture
def cli(stack: LiveStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user of this stack with no saved login yet; the path their login will be saved at."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FORGE_SCHEDULER_ADDR", stack.address)
    for variable in ("FORGE_TOKEN", "FORGE_TOKEN_FILE"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path / "config" / "azuraforge" / "tokens.json"


@pytest.fixture
def logged_in(cli: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Path:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ADMIN_PASSWORD}\n"))
    assert main(["login", "--username", "admin", "--password-stdin"]) == 0
    capsys.readouterr()
    return cli


def forge(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def submitted_id(out: str) -> str:
    match = ID.search(out)
    assert match, out
    return match[1]


# forge login


def test_login_saves_the_token_for_this_scheduler_only_readable_by_its_owner(
    stack, cli, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{ADMIN_PASSWORD}\n"))

    status, out, err = forge(capsys, "login", "-u", "admin", "--password-stdin")

    assert status == 0, err
    assert out.startswith(f"Logged in to {stack.address} as admin (admin) until ")
    assert stat.S_IMODE(cli.stat().st_mode) == 0o600
    saved = json.loads(cli.read_text())
    assert set(saved) == {stack.address}
    assert saved[stack.address]["username"] == "admin"
    assert saved[stack.address]["token"].count(".") == 2  # a JWT


def test_a_wrong_password_is_one_line_and_status_3(cli, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("not-the-password\n"))

    status, _, err = forge(capsys, "login", "-u", "admin", "--password-stdin")

    assert status == EXIT_AUTH
    assert err == "forge login: wrong username or password\n"
    assert not cli.exists()


def test_commands_say_to_log_in_first(cli, capsys) -> None:
    status, _, err = forge(capsys, "experiments")

    assert status == EXIT_AUTH
    assert err.startswith("forge experiments: not logged in to the scheduler at 127.0.0.1:")
    assert err.endswith(": run `forge login` first\n")


def test_a_scheduler_that_is_not_there_is_named(cli, monkeypatch, capsys) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("FORGE_TOKEN", "any")  # a token from the environment, for scripts

    status, _, err = forge(capsys, "experiments", "--scheduler", nowhere)

    assert status == EXIT_UNAVAILABLE
    assert err.startswith(
        f"forge experiments: cannot reach the scheduler at {nowhere}: is it running?"
    )
    assert err.count("\n") == 1


# forge submit


def test_submit_watch_shows_epochs_then_the_final_status_and_metrics(logged_in, capsys) -> None:
    status, out, err = forge(capsys, "submit", "trainer_probe", "--set", "epochs=2", "--watch")

    assert status == 0, out + err
    lines = out.splitlines()
    assert ID.match(lines[0])
    assert re.search(r"^Running trainer_probe on trainer-0: 2 epochs of \d+ batches$", out, re.M)
    epochs = [line for line in lines if line.startswith("Epoch ")]
    assert [line.split(" - ")[0] for line in epochs] == ["Epoch 1/2", "Epoch 2/2"]
    assert all("loss: " in line and "val_loss: " in line for line in epochs)
    assert "Experiment SUCCEEDED" in lines
    header = r"^  metric +model +predict zero +least_squares \(reference\)$"
    assert re.search(header, out, re.M), out
    assert "\r" not in out, "no bar redrawing when the output is not a terminal"


def test_submit_without_watch_returns_at_once_with_the_id(logged_in, stack, capsys) -> None:
    status, out, _ = forge(capsys, "submit", "trainer_probe", "--set", "epochs=1")

    assert status == 0
    experiment_id = submitted_id(out)
    assert f"forge experiments show {experiment_id}" in out


def test_a_bad_setting_is_refused_before_sending_naming_the_field(logged_in, capsys) -> None:
    status, out, err = forge(capsys, "submit", "trainer_probe", "--set", "epochs=0")

    assert status == EXIT_USAGE
    assert out == ""
    assert "invalid settings for trainer_probe" in err
    assert "epochs" in err
    assert "`forge pipelines trainer_probe` lists its settings." in err


def test_the_schedulers_refusal_names_the_field_too(logged_in, monkeypatch, capsys) -> None:
    # A client without the pipeline installed sends the values as JSON; the scheduler checks.
    monkeypatch.setattr(submit_module, "discover", lambda: Discovery({}, {}))

    status, out, err = forge(capsys, "submit", "trainer_probe", "--set", "epochs=0")

    assert status == EXIT_USAGE
    assert out == ""
    assert err.startswith("forge submit: ")
    assert "epochs" in err


def test_max_restarts_out_of_range_is_refused_before_sending(logged_in, capsys) -> None:
    for value in ("101", "-1"):
        status, out, err = forge(capsys, "submit", "trainer_probe", "--max-restarts", value)

        assert status == EXIT_USAGE
        assert out == ""
        assert err == f"forge submit: --max-restarts {value}: give 0 to 100\n"


def test_an_unknown_pipeline_is_a_usage_error(logged_in, capsys) -> None:
    status, _, err = forge(capsys, "submit", "no_such_pipeline")

    assert status == EXIT_USAGE
    assert "no_such_pipeline" in err


def test_a_failed_experiment_ends_the_watch_with_status_1(logged_in, capsys) -> None:
    status, out, _ = forge(capsys, "submit", "trainer_probe", "--set", "behaviour=raise", "--watch")

    assert status == EXIT_FAILED
    assert re.search(r"^Experiment FAILED: .*the probe's data source is down", out, re.M), out


def test_ctrl_c_stops_watching_not_the_experiment(logged_in, stack, monkeypatch, capsys) -> None:
    def interrupt(self: object, event: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(submit_module.EventPrinter, "show", interrupt)

    status, out, err = forge(capsys, "submit", "trainer_probe", "--set", "epochs=1", "--watch")

    assert status == EXIT_INTERRUPTED
    experiment_id = submitted_id(out)
    assert f"Stopped watching; experiment {experiment_id} goes on." in err
    assert f"forge experiments cancel {experiment_id}   to cancel it" in err
    finished = stack.run(stack.stack.wait_for(stack.stack.admin_token, experiment_id, TERMINAL))
    assert status_name(finished.status) == "SUCCEEDED"


# forge experiments


def test_experiments_lists_show_report_and_cancel(logged_in, stack, tmp_path, capsys) -> None:
    status, out, _ = forge(capsys, "submit", "trainer_probe", "--set", "epochs=1", "--watch")
    assert status == 0
    done = submitted_id(out)

    status, out, _ = forge(capsys, "experiments", "--status", "succeeded", "--limit", "500")
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split() == [
        "ID",
        "NAME",
        "PIPELINE",
        "STATUS",
        "EPOCHS",
        "CREATED",
        "(UTC)",
        "OWNER",
    ]
    row = next(row for row in rows if row.startswith(done))
    assert row.split()[1:5] == ["-", "trainer_probe", "SUCCEEDED", "1/1"]

    status, out, _ = forge(capsys, "experiments", "show", done)
    assert status == 0
    assert re.search(rf"^id +{done}$", out, re.M)
    assert re.search(r"^status +SUCCEEDED$", out, re.M)
    # The config as the schema types and orders it: 1, not 1.0, and epochs first.
    assert '\nconfig:\n  {\n    "epochs": 1,\n    "batch_size": 8,\n' in out, out
    assert "report.md" in out

    status, out, _ = forge(capsys, "experiments", "report", done)
    assert status == 0
    assert out.startswith("#")
    report = tmp_path / "report.md"
    status, out, _ = forge(capsys, "experiments", "report", done, "-o", str(report))
    assert status == 0
    assert out.startswith(f"Wrote report.md of {done} to {report}")
    assert report.read_text().startswith("#")

    status, out, _ = forge(
        capsys, "submit", "trainer_probe", "--set", "epochs=50", "--set", "batch_pause=0.2"
    )
    slow = submitted_id(out)
    status, out, err = forge(capsys, "experiments", "cancel", slow)
    assert status == 0, err
    assert out == f"Experiment {slow} is CANCELLED\n"


def test_max_restarts_is_kept_and_show_prints_it_with_one_row_per_epoch(logged_in, capsys) -> None:
    status, out, err = forge(
        capsys, "submit", "trainer_probe", "--set", "epochs=2", "--max-restarts", "5", "--watch"
    )
    assert status == 0, out + err
    done = submitted_id(out)
    assert "Resumed on" not in out
    assert "Epochs, the latest run of each:" not in out  # Never resumed: no second table.

    status, out, _ = forge(capsys, "experiments", "show", done)

    assert status == 0
    assert re.search(r"^restarts +0 of at most 5$", out, re.M), out
    assert "attempts:" not in out  # One attempt only.
    lines = out.splitlines()
    at = lines.index("epochs:")
    header = lines[at + 1].split()
    assert header[0] == "epoch" and {"loss", "val_loss"} <= set(header), out
    assert [line.split()[0] for line in lines[at + 2 : at + 4]] == ["1", "2"]
    assert lines[at + 4] == ""


def test_a_lost_run_is_resumed_and_show_lists_its_attempts(logged_in, capsys) -> None:
    # The probe's training process SIGKILLs itself as epoch 2 begins, on every attempt.
    status, out, err = forge(
        capsys, "submit", "trainer_probe", "--set", "behaviour=die", "--max-restarts", "1", "-w"
    )

    assert status == EXIT_FAILED, out + err
    experiment_id = submitted_id(out)
    resumed = re.findall(
        r"^(?:Resumed|Restarted) on trainer-0 .*\(attempt (\d) of 2\): .+$", out, re.M
    )
    assert resumed == ["2"], out
    assert re.search(r"^Experiment FAILED: ", out, re.M), out

    status, out, _ = forge(capsys, "experiments", "show", experiment_id)

    assert status == 0
    assert re.search(r"^restarts +1 of at most 1$", out, re.M), out
    lines = out.splitlines()
    at = lines.index("attempts:")
    assert [line.split()[:2] for line in lines[at + 2 : at + 4]] == [
        ["1", "trainer-0"],
        ["2", "trainer-0"],
    ]
    if "epochs:" in lines:
        at = lines.index("epochs:") + 2
        shown = [line.split()[0] for line in lines[at : lines.index("", at)]]
        assert shown == sorted(set(shown), key=int), "one row per epoch"


def test_a_run_is_named_at_submission_renamed_and_cleared(logged_in, capsys) -> None:
    status, out, _ = forge(
        capsys, "submit", "trainer_probe", "--set", "epochs=1", "--name", " first try "
    )
    assert status == 0
    match = re.search(r"Submitted experiment (\S+) 'first try' \(trainer_probe\)", out)
    assert match, out
    named = match[1]

    status, out, _ = forge(capsys, "experiments", "--limit", "500")
    row = next(row for row in out.splitlines() if row.startswith(named))
    assert row.split()[1:4] == ["first", "try", "trainer_probe"]
    status, out, _ = forge(capsys, "experiments", "show", named)
    assert re.search(r"^name +first try$", out, re.M), out

    status, out, err = forge(capsys, "experiments", "rename", named, "lr 0.01")
    assert (status, out) == (0, f"Experiment {named} is now called 'lr 0.01'\n"), err
    status, out, _ = forge(capsys, "experiments", "show", named)
    assert re.search(r"^name +lr 0\.01$", out, re.M), out

    assert forge(capsys, "experiments", "rename", named, "--clear")[:2] == (
        0,
        f"Experiment {named} has no name now\n",
    )
    assert forge(capsys, "experiments", "rename", named, "")[0] == 0
    status, out, _ = forge(capsys, "experiments", "show", named)
    assert re.search(r"^name +-$", out, re.M), out


def test_a_bad_name_or_rename_is_a_usage_error_naming_it(logged_in, capsys) -> None:
    status, out, err = forge(capsys, "submit", "trainer_probe", "--name", "x" * 101)
    assert (status, out) == (EXIT_USAGE, "")
    assert "name: must be at most 100 characters, got 101" in err

    experiment_id = submitted_id(forge(capsys, "submit", "trainer_probe")[1])
    status, _, err = forge(capsys, "experiments", "rename", experiment_id, "two\nlines")
    assert status == EXIT_USAGE
    assert "name: must not contain control characters" in err
    for args in ([], ["a name", "--clear"]):
        status, _, err = forge(capsys, "experiments", "rename", experiment_id, *args)
        assert status == EXIT_USAGE
        assert "give either a NAME or --clear" in err
    status, _, err = forge(capsys, "experiments", "rename", "no-such-experiment", "x")
    assert status == EXIT_NOT_FOUND, err


def test_an_experiment_that_is_not_there_is_status_4(logged_in, capsys) -> None:
    for action in ("show", "cancel", "report"):
        status, _, err = forge(capsys, "experiments", action, "no-such-experiment")
        assert status == EXIT_NOT_FOUND, err
        assert "not found" in err
        assert err.count("\n") == 1
