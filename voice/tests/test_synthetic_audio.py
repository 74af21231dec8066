from voice import codec
from voice.synthetic_audio import silence_ulaw, speech_like_ulaw, tone_ulaw, voiced_noise_ulaw


def levels(ulaw: bytes) -> list[int]:
    return list(memoryview(codec.ulaw_to_pcm16(ulaw)).cast("h"))


def test_silence_is_the_mulaw_zero_code():
    assert silence_ulaw(20) == b"\xff" * 160


def test_a_tone_lasts_what_was_asked_and_reaches_its_amplitude():
    tone = tone_ulaw(440, 50, amplitude=8000)
    assert len(tone) == 400
    assert 7500 <= max(levels(tone)) <= 8500


def test_a_tone_cut_into_frames_has_its_tail_padded_with_silence():
    frames = list(codec.reframe([tone_ulaw(440, 50)]))
    assert [len(frame) for frame in frames] == [160, 160, 160]
    assert frames[-1].endswith(b"\xff" * 80)


def test_voiced_noise_is_loud_and_deterministic_for_a_seed():
    noise = voiced_noise_ulaw(200, seed=1)
    assert len(noise) == 1600
    assert noise == voiced_noise_ulaw(200, seed=1)
    assert noise != voiced_noise_ulaw(200, seed=2)
    assert max(abs(level) for level in levels(noise)) > 4000


def test_speech_like_audio_follows_the_text_and_is_deterministic():
    short, long = speech_like_ulaw("Hello."), speech_like_ulaw("Hello, this is a much longer sentence.")
    assert short == speech_like_ulaw("Hello.")
    assert len(long) > len(short) > 0
    assert speech_like_ulaw("") == b""
