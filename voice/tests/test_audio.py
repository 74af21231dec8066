from voice import audio


def test_mulaw_round_trips_within_its_quantisation_step():
    for sample in (-32000, -1000, -10, 0, 10, 1000, 32000):
        decoded = audio.ulaw_to_linear(audio.linear_to_ulaw(sample))
        assert abs(decoded - sample) <= max(8, abs(sample) // 16)


def test_silence_is_the_mulaw_zero_byte():
    assert audio.silence(0.02) == b"\xff" * 160


def test_audio_is_cut_into_20_ms_frames_padded_with_silence():
    frames = audio.frames(audio.tone(440, 0.05))
    assert [len(frame) for frame in frames] == [160, 160, 160]
    assert frames[-1].endswith(b"\xff" * 80)


def test_speech_like_audio_is_loud_and_deterministic():
    speech = audio.speech_like(0.2, seed=1)
    assert speech == audio.speech_like(0.2, seed=1)
    assert max(abs(audio.ulaw_to_linear(b)) for b in speech) > 4000
