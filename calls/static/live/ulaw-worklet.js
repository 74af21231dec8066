/* AudioWorklets of the live call page, in a context running at 8 kHz (no resampling here):
   - "ulaw-player" decodes a call's μ-law frames (G.711) and plays both sides mixed. Each message is one frame:
     a track byte (0 callee, 1 agent) then μ-law bytes. Each track has a one-second ring buffer: a frame that
     does not fit replaces the oldest audio (the browser never queues without bound).
   - "ulaw-encoder" turns the supervisor's microphone into 160-byte μ-law frames (20 ms) for the call. */
"use strict";
const TABLE = new Float32Array(256);
for (let i = 0; i < 256; i += 1) {
  const u = ~i & 0xff;
  const magnitude = (((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 0x07);
  TABLE[i] = ((u & 0x80) ? 0x84 - magnitude : magnitude - 0x84) / 32768;
}
const CAPACITY = 8000;

class Track {
  constructor() { this.samples = new Float32Array(CAPACITY); this.start = 0; this.length = 0; }
  push(bytes) {
    for (let i = 1; i < bytes.length; i += 1) {
      if (this.length === CAPACITY) { this.start = (this.start + 1) % CAPACITY; this.length -= 1; }
      this.samples[(this.start + this.length) % CAPACITY] = TABLE[bytes[i]];
      this.length += 1;
    }
  }
  next() {
    if (!this.length) return 0;
    const value = this.samples[this.start];
    this.start = (this.start + 1) % CAPACITY; this.length -= 1;
    return value;
  }
}

class UlawPlayer extends AudioWorkletProcessor {
  constructor() {
    super();
    this.tracks = [new Track(), new Track()];
    this.decoded = 0;
    this.quanta = 0;
    this.port.onmessage = (message) => {
      const bytes = new Uint8Array(message.data);
      if (bytes.length < 2) return;
      this.tracks[bytes[0] === 1 ? 1 : 0].push(bytes);
      this.decoded += bytes.length - 1;
      this.frames = (this.frames || 0) + 1;
      // Counted as decoded, whether or not the audio device pulls samples yet (a busy or headless machine).
      if (this.frames % 25 === 0) this.port.postMessage({ decoded: this.decoded });
    };
  }
  process(inputs, outputs) {
    const out = outputs[0][0];
    for (let i = 0; i < out.length; i += 1) out[i] = Math.max(-1, Math.min(1, this.tracks[0].next() + this.tracks[1].next()));
    this.quanta += 1;
    if (this.quanta % 8 === 0) this.port.postMessage({ decoded: this.decoded });
    return true;
  }
}
registerProcessor("ulaw-player", UlawPlayer);

function encode(sample) {
  let value = Math.round(Math.max(-1, Math.min(1, sample)) * 32635);
  const sign = value < 0 ? 0x80 : 0;
  if (value < 0) value = -value;
  value += 0x84;
  let exponent = 7;
  for (let mask = 0x4000; (value & mask) === 0 && exponent > 0; mask >>= 1) exponent -= 1;
  const mantissa = (value >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

class UlawEncoder extends AudioWorkletProcessor {
  constructor() { super(); this.frame = new Uint8Array(160); this.filled = 0; }
  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    for (let i = 0; i < input.length; i += 1) {
      this.frame[this.filled] = encode(input[i]);
      this.filled += 1;
      if (this.filled === 160) {
        this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
        this.frame = new Uint8Array(160);
        this.filled = 0;
      }
    }
    return true;
  }
}
registerProcessor("ulaw-encoder", UlawEncoder);
