"""The turn-end model of bench_smart_turn: Pipecat's smart-turn v3 as Pipecat ships and runs it (its own venv).

Run by the benchmark with the interpreter of the Pipecat virtualenv (BENCH_PIPECAT_PYTHON; Pipecat is not a
dependency of Callwright). Uses only Pipecat's public API: `LocalSmartTurnAnalyzerV3` with the model bundled in
the pipecat-ai wheel (`smart-turn-v3.2-cpu.onnx`, one inference thread, its default), fed 8 kHz audio as
Pipecat's transport would feed it, asked `analyze_end_of_turn()` as Pipecat's turn strategy asks it once the VAD
says the caller stopped.

Reads one JSON object a line on stdin — {"pcm16": base64 of the turn's 8 kHz 16-bit audio so far} — and writes
one a line: {"complete": bool, "probability": float, "model_ms": Pipecat's own timing of the prediction,
"cpu_ms": this process's CPU time for the whole call (resampling, features, inference)}.

    python bench/smart_turn_peer.py
"""

import asyncio
import base64
import json
import sys
import time

from loguru import logger
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

RATE = 8000


async def main() -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    analyzer = LocalSmartTurnAnalyzerV3(sample_rate=RATE)
    analyzer.set_sample_rate(RATE)
    for line in sys.stdin:
        pcm = base64.b64decode(json.loads(line)["pcm16"])
        started = time.process_time()
        analyzer.append_audio(pcm, is_speech=True)
        state, metrics = await analyzer.analyze_end_of_turn()
        cpu_ms = (time.process_time() - started) * 1000
        analyzer.clear()
        answer = {
            "complete": state == EndOfTurnState.COMPLETE,
            "probability": metrics.probability if metrics else None,
            "model_ms": metrics.e2e_processing_time_ms if metrics else None,
            "cpu_ms": cpu_ms,
        }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
