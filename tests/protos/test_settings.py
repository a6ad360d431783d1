"""`azuraforge.settings`: one reading of every FORGE_* variable, flags over the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from azuraforge.settings import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_SCHEDULER_PORT,
    DEFAULT_TRAINER_PORT,
    Flag,
    ForgeEnvironment,
    SettingsError,
    read_environment,
)

ROOT = Path(__file__).resolve().parents[2]


def test_unset_variables_take_their_defaults():
    env = read_environment({})

    assert (env.scheduler_port, env.trainer_port, env.gateway_port) == (
        DEFAULT_SCHEDULER_PORT,
        DEFAULT_TRAINER_PORT,
        DEFAULT_GATEWAY_PORT,
    )
    assert env.scheduler_address == f"127.0.0.1:{DEFAULT_SCHEDULER_PORT}"
    assert env.data_folder == Path("var").absolute()
    assert env.nats_url is None and env.trainer_threads is None


@pytest.mark.parametrize("blank", ["", " ", "\t", " \n "])
def test_a_blank_value_counts_as_unset(blank: str):
    env = read_environment(
        {"FORGE_DATA_DIR": blank, "FORGE_SCHEDULER_PORT": blank, "FORGE_NATS_URL": blank}
    )

    assert env == ForgeEnvironment()
    assert "data_dir" not in env.model_fields_set


def test_every_value_is_stripped_of_surrounding_whitespace(tmp_path: Path):
    env = read_environment(
        {
            "FORGE_DATA_DIR": f" {tmp_path}\n",
            "FORGE_SCHEDULER_PORT": " 7000 ",
            "FORGE_NATS_PASSWORD": "\tpass word ",
            "FORGE_SCHEDULER_ADDR": " sched:1 ",
        }
    )

    assert env.data_folder == tmp_path
    assert env.scheduler_port == 7000
    # Inner spaces are the value's own; only the ends go.
    assert env.nats_password == "pass word"
    assert env.scheduler_address == "sched:1"


def test_a_flag_given_wins_over_its_variable_and_one_not_given_does_not():
    environ = {"FORGE_TRAINER_PORT": "7000", "FORGE_TRAINER_HOST": "10.0.0.1"}

    env = read_environment(
        environ,
        {"trainer_port": Flag("--port", 0), "trainer_host": Flag("--host", None)},
    )

    assert env.trainer_port == 0
    assert env.trainer_host == "10.0.0.1"


@pytest.mark.parametrize(
    ("environ", "flags", "message"),
    [
        ({"FORGE_GATEWAY_PORT": "ten"}, {}, "FORGE_GATEWAY_PORT='ten' is not a whole number."),
        ({"FORGE_GATEWAY_PORT": "1.5"}, {}, "FORGE_GATEWAY_PORT='1.5' is not a whole number."),
        ({"FORGE_TRAINER_SLOTS": "0"}, {}, "FORGE_TRAINER_SLOTS=0 is out of range: use 1 to 1024."),
        (
            {"FORGE_SCHEDULER_PORT": "7000"},
            {"scheduler_port": Flag("--port", 70000)},
            "--port 70000 is out of range: use 1 to 65535.",
        ),
    ],
)
def test_a_bad_value_is_named_as_the_user_wrote_it(environ, flags, message: str):
    with pytest.raises(SettingsError, match=re.escape(message)):
        read_environment(environ, flags)


def test_a_flag_for_no_setting_is_a_programming_error():
    with pytest.raises(KeyError, match="--nope"):
        read_environment({}, {"no_such_setting": Flag("--nope", 1)})


def test_variables_the_module_does_not_define_are_ignored():
    assert read_environment({"FORGE_SOMETHING_ELSE": "x", "HOME": "/"}) == ForgeEnvironment()


def test_the_settings_table_of_running_md_is_the_module():
    """Every variable defined is in docs/running.md#settings with its default, and the table
    lists nothing the module does not define."""
    doc = (ROOT / "docs" / "running.md").read_text()
    settings = doc[doc.index("\n## Settings") :]
    rows = dict(re.findall(r"^\| `(FORGE_[A-Z_]+)` \|(.*)$", settings, flags=re.MULTILINE))
    variables = ForgeEnvironment.variables()

    assert set(variables) - set(rows) == set(), "add these to docs/running.md#settings"
    assert set(rows) - set(variables) == set(), "define these in azuraforge.settings"
    for name, info in variables.items():
        if isinstance(info.default, int):
            assert f"`{info.default}`" in rows[name], f"{name}'s default in docs/running.md"
