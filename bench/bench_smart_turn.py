"""A turn-end model or not: Pipecat's smart-turn v3 beside our endpointer, on our line-condition fixtures.

Pipecat ships smart-turn v3 (`smart-turn-v3.2-cpu.onnx`, inside the pipecat-ai wheel: available offline) and
uses it so: its VAD says the caller stopped after a short silence (0.2 s is Pipecat's advice with smart-turn),
the model reads the turn's audio so far (up to 8 s, resampled to 16 kHz, Whisper features) and says whether the
turn is complete; if it is, the turn ends; if not, the bot waits for more speech, or ends the turn after
`stop_secs` of silence (3 s, Pipecat's default). The model runs in Pipecat's own venv (bench/smart_turn_peer.py,
BENCH_PIPECAT_PYTHON), through Pipecat's public `LocalSmartTurnAnalyzerV3`; our turn detector plays the VAD.

Two sets of trials, through every line condition of `voice.line_conditions` (seed 1):
- complete: the six espeak-ng caller phrases (voice/tests/fixtures/speech) — endpoint delay p95 (real end of
  speech → end of turn) and early ends;
- paused: six sentences said in two parts with a pause between them (voice/tests/fixtures/speech/pauses: the first
  part unfinished, "My account number is … four five six, seven eight nine.") at PAUSES_MS — false ends of turn
  (the turn declared over in the pause) and the endpoint delay after the real end.

Endpointers: ours as shipped (600 ms of silence); smart-turn as Pipecat runs it (0.2 s, then the model, 3 s at
most); smart-turn asked at our 600 ms (the model only holding a turn open that silence would end, 3 s at most).
A model decision is counted at the frame that asked plus the inference's CPU time. CPU per inference is the model
process's CPU time for one `analyze_end_of_turn` (resampling, features, inference), single-threaded.
"""

import base64
import json
import os
import statistics
import subprocess
from pathlib import Path

from bench.harness import Figure, write_result
from voice import codec
from voice.line_conditions import CONDITIONS, FIXTURES, Trial, build, p95, phrases
from voice.pipeline.turn_taking import SpeechEnded, SpeechStarted, TurnDetector, TurnTakingConfig

ROOT = Path(__file__).resolve().parent.parent
PIPECAT_PYTHON = os.environ.get("BENCH_PIPECAT_PYTHON", str(ROOT.parent / "h17-pipecat-venv" / "bin" / "python"))
PAUSES_MS = (500, 800, 1200)
MAX_SILENCE_MS = 3000  # Pipecat's SmartTurnParams.stop_secs
SILENCE = bytes([codec.ULAW_SILENCE])


class SmartTurn:
    """The model in Pipecat's venv, one request a line (bench/smart_turn_peer.py)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [PIPECAT_PYTHON, str(ROOT / "bench" / "smart_turn_peer.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.answers: list[dict] = []

    def ask(self, ulaw: bytes) -> dict:
        request = {"pcm16": base64.b64encode(codec.ulaw_to_pcm16(ulaw)).decode()}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        self.answers.append(answer)
        return answer

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def arriving(trial: Trial, detector: TurnDetector):
    """(frame, its end on the trial's clock) as the carrier delivers them (lost frames never arrive), the agent's
    echo told to the detector as `voice.line_conditions.endpoint` does."""
    agent_frames = list(codec.reframe([trial.agent])) if trial.agent else []
    for index, frame in enumerate(codec.reframe([trial.inbound])):
        if index < len(agent_frames):
            detector.agent_speaking = True
            detector.agent_audio(agent_frames[index])
        elif index == len(agent_frames):
            detector.agent_speaking = False
        if index not in trial.lost_frames:
            yield frame, (index + 1) * codec.FRAME_MS


def smart_endpoint(trial: Trial, model: SmartTurn, ask_after_ms: int) -> tuple[int, ...]:
    """Our detector as the VAD (its turn ends after `ask_after_ms` of silence), then the model on the turn's audio
    so far: complete ends the turn; incomplete waits for more speech, or MAX_SILENCE_MS of silence."""
    detector = TurnDetector(TurnTakingConfig(silence_ms=ask_after_ms))
    ends: list[int] = []
    turn = bytearray()  # the caller's turn so far: from its first onset (with pre-roll), pauses included
    not_yet_since: int | None = None  # when the model said "not yet": the turn stays open
    for frame, now_ms in arriving(trial, detector):
        events = detector.feed(frame)
        if turn:
            turn += frame
        for event in events:
            if isinstance(event, SpeechStarted):
                turn = turn or bytearray(detector.speech_audio)
                not_yet_since = None  # the caller went on: the same turn
            elif isinstance(event, SpeechEnded):
                answer = model.ask(bytes(turn or event.audio))
                if answer["complete"]:
                    ends.append(now_ms + round(answer["cpu_ms"]))
                    turn, not_yet_since = bytearray(), None
                else:
                    not_yet_since = event.ended_ms
        if not_yet_since is not None and now_ms - not_yet_since >= MAX_SILENCE_MS:
            ends.append(now_ms)
            turn, not_yet_since = bytearray(), None
    return tuple(ends)


def our_endpoint(trial: Trial) -> tuple[int, ...]:
    """The ends of turn our detector, as shipped, declares on `trial`."""
    detector = TurnDetector()
    return tuple(now_ms for frame, now_ms in arriving(trial, detector)
                 if any(isinstance(event, SpeechEnded) for event in detector.feed(frame)))  # fmt: skip


def paused_phrases() -> dict[str, tuple[bytes, bytes]]:
    folder = FIXTURES / "pauses"
    return {path.stem.removesuffix("_1"): (path.read_bytes(), (folder / path.name.replace("_1", "_2")).read_bytes())
            for path in sorted(folder.glob("*_1.ulaw"))}  # fmt: skip


def trials() -> tuple[list[tuple[str, Trial]], list[tuple[str, int, Trial, int]]]:
    """(condition, trial) for the complete phrases; (condition, pause, trial, pause start in ms) for the paused."""
    spoken = phrases()
    complete, paused = [], []
    for condition in CONDITIONS:
        for name, phrase in spoken.items():
            others = [audio for other, audio in spoken.items() if other != name]
            complete.append((condition, build(condition, phrase, others)))
        for first, second in paused_phrases().values():
            for pause in PAUSES_MS:
                whole = first + SILENCE * (pause * 8) + second
                trial = build(condition, whole, list(spoken.values()))
                paused.append((condition, pause, trial, trial.speech_start_ms + len(first) // 8))
    return complete, paused


def main() -> None:
    if not Path(PIPECAT_PYTHON).exists():
        raise SystemExit(f"no Pipecat virtualenv at {PIPECAT_PYTHON} (see bench/bench_vad_capacity.py)")
    complete, paused = trials()
    model = SmartTurn()
    results: dict[str, dict[str, list]] = {}
    try:
        for label, ask_after in (("ours", None), ("smart-turn (Pipecat's way: 0.2 s, then the model)", 200),
                                 ("smart-turn asked at our 600 ms", 600)):  # fmt: skip
            rows = {"complete": [], "paused": []}
            for condition, trial in complete:
                rows["complete"].append((condition, ends_of(trial, model, ask_after)))
            for condition, pause, trial, pause_start in paused:
                rows["paused"].append((condition, pause, ends_of(trial, model, ask_after), trial, pause_start))
            results[label] = rows
    finally:
        model.close()
    figures, table = [], {}
    for label, rows in results.items():
        delays = [delay_after(ends, trial) for (_, trial), (_, ends) in zip(complete, rows["complete"], strict=True)]
        early = sum(any(end < trial.speech_end_ms for end in ends) for (_, trial), (_, ends)
                    in zip(complete, rows["complete"], strict=True))  # fmt: skip
        false_ends = dict.fromkeys(PAUSES_MS, 0)
        paused_delays = []
        for _, pause, ends, trial, pause_start in rows["paused"]:
            false_ends[pause] += any(pause_start <= end < trial.speech_end_ms for end in ends)
            paused_delays.append(delay_after(ends, trial))
        per_pause = len(rows["paused"]) // len(PAUSES_MS)
        table[label] = {
            "complete_delay_p95_ms": p95(delays),
            "complete_delay_p50_ms": statistics.median(float("inf") if d is None else d for d in delays),
            "complete_early_ends": early,
            "complete_trials": len(delays),
            "false_end_share_by_pause_ms": {pause: count / per_pause for pause, count in false_ends.items()},
            "paused_delay_p95_ms": p95(paused_delays),
            "paused_trials": len(rows["paused"]),
            "complete_delay_p95_by_condition_ms": {
                condition: p95([d for (c, _), d in zip(complete, delays, strict=True) if c == condition])
                for condition in CONDITIONS
            },
        }
    ours = table["ours"]
    for label in list(table)[1:]:
        theirs = table[label]
        figures.append(Figure(metric=f"endpoint delay p95, complete phrases, every condition — vs {label}", unit="ms",
                              ours=ours["complete_delay_p95_ms"], peer_name=label, peer=theirs["complete_delay_p95_ms"],
                              higher_is_better=False))  # fmt: skip
        for pause in PAUSES_MS:
            figures.append(Figure(metric=f"false end of turn in a {pause} ms mid-sentence pause — vs {label}",
                                  unit="% of trials", ours=ours["false_end_share_by_pause_ms"][pause] * 100,
                                  peer_name=label, peer=theirs["false_end_share_by_pause_ms"][pause] * 100,
                                  higher_is_better=False))  # fmt: skip
    cpu = [answer["cpu_ms"] for answer in model.answers]
    figures.append(Figure(metric="smart-turn CPU per inference (one thread: resample, features, model)", unit="ms",
                          ours=statistics.median(cpu), samples=sorted(cpu)[:: max(1, len(cpu) // 20)],
                          higher_is_better=False))  # fmt: skip
    notes = (
        f"{len(complete)} complete trials (6 phrases × {len(CONDITIONS)} conditions), {len(paused)} paused trials "
        f"(6 sentences × {len(PAUSES_MS)} pauses × {len(CONDITIONS)} conditions); {len(cpu)} inferences. "
        f"A turn never ended counts as infinitely late. Figures per endpointer: {json.dumps(table)}"
    )
    path = write_result("smart_turn", "Turn-end model (Pipecat smart-turn v3) beside our endpointer", figures, notes)
    print(path.read_text())


def ends_of(trial: Trial, model: SmartTurn, ask_after_ms: int | None) -> tuple[int, ...]:
    return our_endpoint(trial) if ask_after_ms is None else smart_endpoint(trial, model, ask_after_ms)


def delay_after(ends: tuple[int, ...], trial: Trial) -> int | None:
    """From the real end of speech to the first end of turn at or after it (None: never)."""
    return next((end - trial.speech_end_ms for end in ends if end >= trial.speech_end_ms), None)


if __name__ == "__main__":
    main()
