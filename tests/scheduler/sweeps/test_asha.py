"""ASHA against rungs and decisions computed by hand."""

import math

import pytest

from scheduler.sweeps.asha import decide, rungs


@pytest.mark.parametrize(
    ("grace", "eta", "epochs", "expected"),
    [
        (1, 3, 9, [1, 3]),
        (1, 3, 10, [1, 3, 9]),
        (1, 3, 3, [1]),
        (2, 2, 20, [2, 4, 8, 16]),
        (1, 4, 1, []),
        (5, 3, 5, []),
    ],
)
def test_rungs_are_at_grace_times_eta_to_the_k_below_the_epochs(grace, eta, epochs, expected):
    assert rungs(grace, eta, epochs) == expected


def judge(objective, earlier, mode="min", eta=3):
    return decide(
        rung=0,
        epoch=1,
        objective=objective,
        earlier=earlier,
        reduction_factor=eta,
        mode=mode,
        metric="val_loss",
    )


def test_the_first_trial_at_a_rung_always_goes_on():
    decision = judge(9.0, [])

    assert decision.promoted
    assert decision.reason == (
        "rung 0 (epoch 1): val_loss 9 is the first at this rung (cut-off 9, min): goes on"
    )
    assert (decision.trials_at_rung, decision.cutoff) == (1, 9.0)


def test_a_sequence_of_nine_trials_decided_by_hand():
    # eta 3: keep floor(n/3), at least 1, of the n trials at the rung so far.
    arrivals = [0.5, 0.4, 0.6, 0.3, 0.45, 0.2, 0.35, 0.25, 0.1]
    expected = [
        # n=1 keep 1 cut 0.5; n=2 keep 1 cut 0.4; n=3 keep 1 cut 0.4; n=4 keep 1 cut 0.3
        (True, 0.5),
        (True, 0.4),
        (False, 0.4),
        (True, 0.3),
        # n=5 keep 1 cut 0.3; n=6 keep 2 cut 0.3; n=7 keep 2 cut 0.3; n=8 keep 2 cut 0.25
        (False, 0.3),
        (True, 0.3),
        (False, 0.3),
        (True, 0.25),
        # n=9 keep 3: 0.1, 0.2, 0.25
        (True, 0.25),
    ]
    seen: list[float] = []
    for objective, (promoted, cutoff) in zip(arrivals, expected, strict=True):
        decision = judge(objective, seen)
        assert (decision.promoted, decision.cutoff) == (promoted, cutoff), objective
        seen.append(objective)


def test_max_mode_keeps_the_highest_and_ties_go_on():
    assert judge(0.9, [0.8, 0.7], mode="max").promoted
    assert not judge(0.75, [0.8, 0.7], mode="max").promoted
    assert judge(0.4, [0.4, 0.5]).promoted


def test_eta_two_keeps_half():
    decision = judge(0.3, [0.1, 0.2, 0.4], eta=2)

    assert not decision.promoted
    assert decision.cutoff == 0.2


def test_a_diverged_trial_is_stopped_and_does_not_set_the_cut_off():
    decision = judge(math.nan, [0.3])

    assert not decision.promoted
    assert decision.cutoff == 0.3
    assert judge(0.5, [math.inf]).promoted


def test_the_reason_says_the_rung_the_numbers_and_the_verdict():
    decision = decide(
        rung=1,
        epoch=3,
        objective=0.41,
        earlier=[0.35, 0.2, 0.5],
        reduction_factor=3,
        mode="min",
        metric="val_loss",
    )

    assert decision.reason == (
        "rung 1 (epoch 3): val_loss 0.41 is not in the best of 4 trials at this rung "
        "(cut-off 0.2, min): stopped"
    )
