"""Speech and turn detection through the line: each condition × each caller phrase (espeak-ng fixtures).

For every condition: the end of the caller's speech is found within 800 ms of its real end at the 95th
percentile, no turn ends while the caller is still speaking (a reply would start over them), and nothing but
the caller makes a turn (noise or the agent's echo before they speak).
"""

import pytest

from voice.line_conditions import CONDITIONS, build, endpoint, p95, phrases, run_table
from voice.pipeline import speech_model
from voice.pipeline.turn_taking import TurnDetector, TurnTakingConfig

TABLE = run_table(TurnDetector, seeds=(1, 2))


@pytest.mark.parametrize("condition", CONDITIONS)
def test_the_end_of_speech_is_found_in_time_and_never_early(condition):
    results = TABLE[condition]
    assert len(results) == 2 * len(phrases())
    delays = [result.delay_ms for result in results]
    assert p95(delays) <= 800, delays
    assert sum(result.early_ends for result in results) == 0
    assert sum(result.false_turns for result in results) == 0


def test_the_speech_model_ships_in_a_wheel_and_runs_only_where_the_levels_are_unsure():
    assert speech_model.available()
    detector = TurnDetector()
    spoken = phrases()
    trial = build("white-35", spoken["call_back"], [spoken["who_is_this"]])
    frames = len(trial.inbound) // 160
    assert endpoint(trial, detector).delay_ms is not None
    assert detector.model is not None
    assert 0 < detector.model.inferences < frames / 2


def test_steady_noise_the_fixed_gate_let_through_no_longer_holds_the_turn_open():
    """webrtcvad behind a fixed −45 dBFS gate hears −40 dBFS hiss as speech now and then (the old detector)."""
    spoken = phrases()
    trial = build("white-40", spoken["already_paid"], [])
    old = endpoint(trial, TurnDetector(TurnTakingConfig(adaptive_floor=False, min_level_dbfs=-45)))
    new = endpoint(trial, TurnDetector())
    assert new.delay_ms < old.delay_ms
