import random

import pytest

from voice import codec
from voice.languages import language_for
from voice.pipeline.listening import classify
from voice.pipeline.turn_taking import (
    BargeInCandidate,
    SpeechDiscarded,
    SpeechEnded,
    SpeechStarted,
    TurnDetector,
    TurnTakingConfig,
    Utterance,
    classify_utterance,
    frame_level_dbfs,
)
from voice.synthetic_audio import silence_ulaw, speech_like_pcm, speech_like_ulaw

SENTENCE = "Yes this is Maria speaking, what is it about"


def noise_ulaw(ms: int, amplitude: int, seed: int = 7) -> bytes:
    rnd = random.Random(seed)  # noqa: S311 - reproducible test noise
    count = ms * 8
    pcm = b"".join(
        max(-32768, min(32767, round(rnd.gauss(0, amplitude)))).to_bytes(2, "little", signed=True) for _ in range(count)
    )
    return codec.pcm16_to_ulaw(pcm)


def run(detector: TurnDetector, audio: bytes) -> list[tuple[int, object]]:
    """Feed audio frame by frame; return (frame start ms, event) pairs."""
    events = []
    for index, frame in enumerate(codec.reframe([audio])):
        events.extend((index * 20, event) for event in detector.feed(frame))
    return events


def test_speech_after_silence_starts_and_ends_one_turn_with_its_timing():
    speech = speech_like_ulaw(SENTENCE)
    speech_ms = len(speech) // 8
    events = [event for _, event in run(TurnDetector(), silence_ulaw(500) + speech + silence_ulaw(1000))]
    assert [type(event) for event in events] == [SpeechStarted, SpeechEnded]
    started, ended = events
    assert 500 <= started.at_ms <= 560
    assert abs(ended.ended_ms - (500 + speech_ms)) <= 100  # synthetic words end in a fade
    assert ended.detected_ms - ended.ended_ms == 600
    assert ended.speech_ms == ended.ended_ms - started.at_ms


def test_the_silence_that_ends_a_turn_is_configurable():
    audio = silence_ulaw(300) + speech_like_ulaw(SENTENCE) + silence_ulaw(1000)
    ended = [e for _, e in run(TurnDetector(TurnTakingConfig(silence_ms=300)), audio) if isinstance(e, SpeechEnded)]
    assert ended[0].detected_ms - ended[0].ended_ms == 300


def test_a_pause_shorter_than_the_endpoint_silence_does_not_split_the_turn():
    audio = speech_like_ulaw("I was thinking") + silence_ulaw(400) + speech_like_ulaw("maybe next week")
    events = [e for _, e in run(TurnDetector(), silence_ulaw(200) + audio + silence_ulaw(800))]
    assert [type(event) for event in events] == [SpeechStarted, SpeechEnded]


def test_a_short_burst_is_discarded_as_noise_not_a_turn():
    audio = silence_ulaw(300) + noise_ulaw(160, 6000) + silence_ulaw(1000)
    events = [e for _, e in run(TurnDetector(), audio)]
    assert [type(event) for event in events] == [SpeechStarted, SpeechDiscarded]
    assert events[1].speech_ms < 200


def test_faint_sound_below_the_level_gate_raises_nothing():
    faint = codec.pcm16_to_ulaw(speech_like_pcm(SENTENCE, amplitude=80))  # far-away talk, line crosstalk
    assert max(frame_level_dbfs(frame) for frame in codec.reframe([faint])) < -45
    assert run(TurnDetector(), faint) == []
    webrtcvad_alone = TurnTakingConfig(min_level_dbfs=-90, adaptive_floor=False)
    assert run(TurnDetector(webrtcvad_alone), faint) != []  # webrtcvad alone calls it speech


def test_digital_silence_has_no_level():
    assert frame_level_dbfs(silence_ulaw(20)) == float("-inf")


def test_speech_over_the_agent_raises_one_barge_in_candidate_after_the_minimum():
    detector = TurnDetector()
    detector.agent_speaking = True
    timed = run(detector, silence_ulaw(200) + speech_like_ulaw(SENTENCE) + silence_ulaw(800))
    candidates = [(at, e) for at, e in timed if isinstance(e, BargeInCandidate)]
    started = next(e for _, e in timed if isinstance(e, SpeechStarted))
    assert len(candidates) == 1
    assert candidates[0][1].speech_ms >= detector.config.barge_in_min_ms
    assert candidates[0][1].at_ms - started.at_ms <= 400


def test_no_barge_in_candidate_while_the_agent_is_silent_or_for_a_short_burst():
    assert not any(isinstance(e, BargeInCandidate) for _, e in run(TurnDetector(), speech_like_ulaw(SENTENCE)))
    detector = TurnDetector()
    detector.agent_speaking = True
    burst = silence_ulaw(200) + noise_ulaw(160, 6000) + silence_ulaw(800)  # shorter than any turn: discarded
    assert not any(isinstance(e, BargeInCandidate) for _, e in run(detector, burst))


def test_the_utterance_audio_includes_pre_roll_before_the_onset():
    speech = speech_like_ulaw(SENTENCE)
    timed = run(TurnDetector(), silence_ulaw(1000) + speech + silence_ulaw(800))
    ended = next(e for _, e in timed if isinstance(e, SpeechEnded))
    assert ended.audio.startswith(silence_ulaw(300))  # 300 ms pre-roll of the silence before
    assert speech[:1600] in ended.audio
    assert len(ended.audio) >= len(speech)


def test_a_caller_who_never_pauses_still_gets_a_turn_end():
    config = TurnTakingConfig(max_utterance_ms=2000)
    tone = codec.pcm16_to_ulaw(speech_like_pcm("aaaa " * 30, words_per_minute=400))
    ended = [e for _, e in run(TurnDetector(config), silence_ulaw(200) + tone) if isinstance(e, SpeechEnded)]
    assert ended
    assert ended[0].detected_ms - ended[0].started_ms <= 2100


def test_a_frame_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="160-byte"):
        TurnDetector().feed(b"\xff" * 159)


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="vad_mode"):
        TurnTakingConfig(vad_mode=4)


@pytest.mark.parametrize(
    ("text", "agent_speaking", "expected"),
    [
        ("", False, Utterance.NOISE),
        ("Um... uh.", False, Utterance.NOISE),
        ("Yes.", False, Utterance.TURN),
        ("Mhm.", True, Utterance.BACKCHANNEL),
        ("Yeah, okay, sure.", True, Utterance.BACKCHANNEL),
        ("Tuesday", True, Utterance.BACKCHANNEL),
        ("Stop.", True, Utterance.INTERRUPTION),
        ("Actually I already paid that bill.", True, Utterance.INTERRUPTION),
        ("Sorry, what?", True, Utterance.INTERRUPTION),
    ],
)
def test_words_decide_whether_an_utterance_is_a_turn_an_interruption_or_a_backchannel(text, agent_speaking, expected):
    assert classify_utterance(text, agent_speaking=agent_speaking) is expected


@pytest.mark.parametrize(
    ("text", "agent_speaking", "expected"),
    [
        ("Vale, ajá.", True, Utterance.BACKCHANNEL),
        ("Sí, claro.", True, Utterance.BACKCHANNEL),
        ("Espere.", True, Utterance.INTERRUPTION),
        ("No me llame más.", True, Utterance.INTERRUPTION),
        ("Eh...", False, Utterance.NOISE),
        ("Sí.", False, Utterance.TURN),
    ],
)
def test_spanish_words_are_read_with_spanishs_lists(text, agent_speaking, expected):
    assert classify_utterance(text, agent_speaking=agent_speaking, language=language_for("es-MX")) is expected


def test_a_spanish_greeting_over_the_opener_is_not_an_interruption():
    spanish = language_for("es-ES")
    assert classify("¿Diga?", agent_speaking=True, over_opener=True, min_interruption_words=1, language=spanish) is (
        Utterance.BACKCHANNEL
    )
    assert classify("¿Quién es?", agent_speaking=True, over_opener=True, min_interruption_words=1,
                    language=spanish) is Utterance.BACKCHANNEL  # fmt: skip
