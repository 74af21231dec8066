"""Endpointing on real lines: how late the end of the caller's speech is found, per line condition, and what the
turn detector costs per frame.

Each caller phrase (espeak-ng fixtures, voice/tests/fixtures/speech) goes through each line condition of
`voice.line_conditions` (clean; white noise at −50/−45/−40/−35 dBFS; babble and music 15 dB under the
caller; the agent's echo 20 dB down; 2 % and 5 % lost frames; clipping) with several noise seeds, after 5 s of
the line alone, fed to a fresh `TurnDetector` on the carrier's 20 ms clock. Figures:

- endpoint delay p95 per condition (real end of speech → the detector's end of turn), beside the previous
  detector (webrtcvad behind a fixed −45 dBFS gate) on the same audio; early ends and false turns counted;
- CPU per inbound frame of the detector (`feed`), with the Silero model on the unsure band, without it,
  and the previous detector; the share of frames the model ran on; one Silero inference.

Single-threaded, in this process; CPU time (process_time), medians over REPEATS runs.
"""

import os
import time

from bench.harness import Figure, median, write_result
from voice import codec
from voice.line_conditions import CONDITIONS, build, endpoint, p95, phrases
from voice.pipeline import speech_model
from voice.pipeline.turn_taking import TurnDetector, TurnTakingConfig

REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
SEEDS = (1, 2, 3, 4, 5)
TARGET_MS = 800
DETECTORS = {
    "new": TurnTakingConfig(),
    "no model": TurnTakingConfig(use_model=False),
    "previous": TurnTakingConfig(adaptive_floor=False, min_level_dbfs=-45),
}


def trials() -> dict[str, list]:
    spoken = phrases()
    table: dict[str, list] = {}
    for condition in CONDITIONS:
        table[condition] = [
            build(condition, phrase, [audio for other, audio in spoken.items() if other != name], seed=seed)
            for name, phrase in spoken.items()
            for seed in SEEDS
        ]
    return table


def main() -> None:
    table = trials()
    figures: list[Figure] = []
    results = {label: {c: [endpoint(t, TurnDetector(cfg)) for t in ts] for c, ts in table.items()}
               for label, cfg in DETECTORS.items()}  # fmt: skip
    for condition in CONDITIONS:
        new, previous = results["new"][condition], results["previous"][condition]
        ours = p95([r.delay_ms for r in new])
        figures.append(
            Figure(
                metric=f"endpoint delay p95, {condition}",
                unit="ms",
                ours=ours,
                samples=[float("inf") if r.delay_ms is None else r.delay_ms for r in new],
                peer_name="webrtcvad behind the former fixed −45 dBFS gate (endpointing as now)",
                peer=p95([r.delay_ms for r in previous]),
                target=f"≤ {TARGET_MS} ms, no early end",
                met=ours <= TARGET_MS and not any(r.early_ends or r.false_turns for r in new),
                higher_is_better=False,
            )
        )
    frames = sum(len(t.inbound) // codec.FRAME_BYTES for ts in table.values() for t in ts)
    costs: dict[str, float] = {}
    model_share = 0.0
    for label, cfg in DETECTORS.items():
        runs = []
        for _ in range(REPEATS):
            detectors = []
            started = time.process_time()
            for ts in table.values():
                for trial in ts:
                    detector = TurnDetector(cfg)
                    detectors.append(detector)
                    endpoint(trial, detector)
            runs.append((time.process_time() - started) / frames * 1e6)
        costs[label] = median(runs)
        if label == "new":
            model_share = sum(d.model_frames for d in detectors) / frames
    figures.append(
        Figure(
            metric="detector CPU per inbound frame (Silero on the unsure band)",
            unit="µs",
            ours=costs["new"],
            peer_name="without the model",
            peer=costs["no model"],
            higher_is_better=False,
        )
    )
    figures.append(
        Figure(
            metric="previous detector CPU per inbound frame", unit="µs", ours=costs["previous"], higher_is_better=False
        )
    )
    figures.append(Figure(metric="share of frames the model ran on", unit="%", ours=model_share * 100))
    model = speech_model.SpeechModel()
    model.push(bytes([codec.ULAW_SILENCE]) * codec.FRAME_BYTES)
    started = time.process_time()
    for _ in range(2000):
        model.probability()
    figures.append(
        Figure(
            metric="one Silero inference (256 samples, 8 kHz)",
            unit="µs",
            ours=(time.process_time() - started) / 2000 * 1e6,
            higher_is_better=False,
        )
    )
    counts = {c: {"early_ends": sum(r.early_ends for r in rs), "false_turns": sum(r.false_turns for r in rs)}
              for c, rs in results["new"].items()}  # fmt: skip
    notes = (
        f"{len(phrases())} espeak-ng phrases × {len(SEEDS)} seeds per condition; {frames} frames per detector pass. "
        "The per-frame cost includes the harness's event loop over the frames (small). "
        f"Early ends / false turns of the new detector: {counts}."
    )
    write_result("endpointing", "Endpointing through line conditions", figures, notes)
    for figure in figures:
        peer = f" | {figure.peer_name}: {figure.peer:,.2f}" if figure.peer is not None else ""
        print(f"{figure.metric}: {figure.ours:,.2f} {figure.unit}{peer}")


if __name__ == "__main__":
    main()
