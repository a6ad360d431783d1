"""The sweep benchmark compares like with like: an ASHA trial's epochs are the same config's
first epochs in full, so stopping it changes what is spent, never what is measured; and the
replay of other settings over the full curves agrees with the real ASHA run."""

import json
from pathlib import Path

from bench.sweeps import main, replay


def test_asha_trials_are_the_prefixes_of_the_full_runs_and_the_replay_agrees(
    tmp_path: Path, capsys
):
    out = tmp_path / "sweep.json"

    main(["--trials", "3", "--epochs", "3", "--json", str(out)])

    result = json.loads(out.read_text())
    trials = result["trials"]
    assert [len(t["full_curve"]) for t in trials] == [3, 3, 3]
    assert len(trials[0]["asha_curve"]) == 3  # the first trial at a rung always goes on
    for trial in trials:
        assert trial["asha_curve"] == trial["full_curve"][: len(trial["asha_curve"])]
    assert result["asha_epochs"] == sum(len(t["asha_curve"]) for t in trials)
    curves = [t["full_curve"] for t in trials]
    assert replay(curves, 1, 3) == (result["asha_best"], result["asha_epochs"])
    assert "ASHA rungs at epochs [1]" in capsys.readouterr().out
