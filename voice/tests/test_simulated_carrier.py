"""The simulated callee's phone: our audio plays at real-time speed and marks come back after it."""

from voice.providers.simulated.carrier import Playback


def test_a_mark_comes_back_only_after_the_audio_before_it_has_played():
    playback = Playback()
    playback.queue_audio(b"\x00" * 400)  # 50 ms
    playback.queue_mark("chunk-1")
    assert playback.tick() == []
    assert playback.tick() == []
    assert playback.tick() == ["chunk-1"]  # the last 10 ms played in this tick
    assert playback.heard_bytes == 400


def test_a_mark_with_no_audio_before_it_comes_back_at_once():
    playback = Playback()
    playback.queue_mark("empty")
    assert playback.tick() == ["empty"]


def test_clear_drops_unplayed_audio_and_returns_its_marks():
    playback = Playback()
    playback.queue_audio(b"\x00" * 1600)
    playback.queue_mark("a")
    playback.queue_audio(b"\x00" * 1600)
    playback.queue_mark("b")
    playback.tick()
    assert playback.clear() == ["a", "b"]
    assert playback.tick() == []
    assert playback.heard_bytes == 160


def test_it_tracks_how_long_agent_audio_has_been_playing():
    playback = Playback()
    playback.queue_audio(b"\x00" * 320)
    playback.tick()
    playback.tick()
    assert round(playback.playing_seconds, 2) == 0.04
    playback.tick()
    assert playback.playing_seconds == 0.0
