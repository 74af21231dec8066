/* Listen-in on a call's page: the audio socket's frames go to the μ-law AudioWorklet (ulaw-worklet.js). */
"use strict";
(function () {
  const panel = document.getElementById("listen");
  if (!panel) return;
  const button = document.getElementById("listen-toggle");
  const samples = document.getElementById("listen-samples");
  let context = null, socket = null;

  async function start() {
    context = new AudioContext({ sampleRate: 8000 });
    await context.audioWorklet.addModule(panel.dataset.worklet);
    const player = new AudioWorkletNode(context, "ulaw-player");
    player.connect(context.destination);
    player.port.onmessage = (message) => { samples.textContent = message.data.decoded; };
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}/ws/calls/${panel.dataset.call}/audio/`);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (message) => player.port.postMessage(message.data, [message.data]);
    socket.onclose = (closed) => {
      if (closed.code === 4403) document.getElementById("listen-state").textContent = gettext("not allowed");
    };
    button.textContent = gettext("Stop listening");
    document.getElementById("listen-state").textContent = gettext("listening");
  }

  function stop() {
    if (socket) socket.close();
    if (context) context.close();
    socket = context = null;
    button.textContent = gettext("Listen");
    document.getElementById("listen-state").textContent = "";
  }

  button.onclick = () => (socket ? stop() : start());
})();
