/* One call's live page: the transcript as it happens (cut turns marked), tool calls and results, each turn's
   latency breakdown, events and outcome fields; steering buttons. Finished calls render from #call-state. */
"use strict";
(function () {
  const { TERMINAL, later, connect, post, latency, element, label, who } = window.Live;
  const call = JSON.parse(document.getElementById("call-state").textContent);
  const root = document.querySelector(".live-call");
  const turns = new Map();
  const transcript = document.getElementById("transcript");
  const fields = Object.assign({}, call.extracted_data || {});
  window.liveCall = { turns, events: 0 };

  function addTurn(turn) {
    if (turns.has(turn.index)) return;
    turns.set(turn.index, turn);
    const at = turn.at ? new Date(turn.at).toLocaleTimeString() : new Date().toLocaleTimeString();
    const breakdown = turn.role === "agent" ? latency(turn.latency_ms) : "";
    const item = element("li", { class: `turn turn-${turn.role}${turn.interrupted ? " cut" : ""}`, "data-index": turn.index },
      element("span", { class: "meta" }, `${who(turn.role)} · ${at}`),
      element("div", { class: "bubble" }, turn.text),
      breakdown ? element("span", { class: "meta latency" }, breakdown) : null);
    const after = [...transcript.children].find((li) => Number(li.dataset.index) > turn.index);
    transcript.insertBefore(item, after || null);
    document.getElementById("no-turns").hidden = true;
  }

  function addTool(tool) {
    document.getElementById("tools").append(element("li", { class: "tool" },
      element("strong", {}, tool.name), " ", element("pre", {}, `${JSON.stringify(tool.arguments || {})} → ${JSON.stringify(tool.result || {})}`)));
    if (tool.name === "record_outcome" && tool.arguments && tool.arguments.field) { fields[tool.arguments.field] = tool.arguments.value; showFields(); }
  }

  function addEvent(what, at) {
    document.getElementById("events").append(element("li", {}, `${new Date(at || Date.now()).toLocaleTimeString()} ${what}`));
  }

  function showFields() {
    document.getElementById("outcome-fields").replaceChildren(...Object.entries(fields).map(([name, value]) =>
      element("tr", {}, element("th", {}, name), element("td", {}, typeof value === "string" ? value : JSON.stringify(value)))));
  }

  function status(value, answeredBy) {
    const shown = document.getElementById("call-status");
    if (value && later(shown.dataset.status, value)) { shown.dataset.status = value; shown.textContent = label("status", value); }
    if (answeredBy) { document.getElementById("call-answered-by").textContent = label("answered_by", answeredBy); }
    if (TERMINAL.has(value)) { root.dataset.open = "0"; }
  }

  call.turns.forEach(addTurn);
  call.tools.forEach(addTool);
  call.events.forEach((event) => addEvent(`${event.kind}: ${event.what}`, event.at));
  showFields();

  function onEvent(event) {
    window.liveCall.events += 1;
    if (event.kind === "turn") addTurn(event);
    else if (event.kind === "tool") addTool(event);
    else if (event.kind === "status" || event.kind === "amd") { status(event.status, event.answered_by); addEvent(`${event.kind}: ${event.kind === "amd" ? label("answered_by", event.answered_by) : label("status", event.status)}`); }
    else if (event.kind === "conversation") { addEvent(interpolate(gettext("conversation %s"), [event.state])); if (event.outcome) document.getElementById("outcome-value").textContent = event.outcome; }
    else if (event.kind === "steer") addEvent(`${event.by} ${event.action.replace(/_/g, " ")}${event.text ? `: ${event.text}` : ""}`);
    else if (event.kind === "provider_error") addEvent(interpolate(gettext("provider error: %s %s"), [event.role, event.provider]));
  }
  connect(`/ws/calls/${call.id}/`, onEvent, document.getElementById("live-state"));

  /* The microphone, at 8 kHz, encoded to μ-law in a worklet and sent in 20 ms frames to `ws/calls/<uuid>/speak/`. */
  async function speak(worklet) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true } });
    const context = new AudioContext({ sampleRate: 8000 });
    await context.audioWorklet.addModule(worklet);
    const encoder = new AudioWorkletNode(context, "ulaw-encoder");
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/ws/calls/${call.id}/speak/`);
    const counter = document.getElementById("speak-frames");
    let sent = 0;
    encoder.port.onmessage = (message) => {
      // A socket that cannot keep up drops frames rather than piling them up (live audio, not a recording).
      if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount < 16000) {
        socket.send(message.data);
        sent += 1;
        counter.textContent = sent;
      }
    };
    context.createMediaStreamSource(stream).connect(encoder);
    return { stop() { stream.getTracks().forEach((track) => track.stop()); context.close(); socket.close(); } };
  }

  const result = document.getElementById("steer-result");
  async function steer(action, data) {
    result.className = "result";
    result.textContent = "…";
    const answer = await post(`/live/calls/${call.id}/steer/${action}/`, data);
    result.textContent = answer.ok ? answer.message : answer.error;
    if (!answer.ok) result.classList.add("error");
    return answer.ok;
  }
  if (document.getElementById("steer")) {
    document.getElementById("whisper-form").onsubmit = async (submitted) => {
      submitted.preventDefault();
      const text = document.getElementById("whisper-text");
      if (await steer("whisper", { text: text.value })) text.value = "";
    };
    document.getElementById("transfer-form").onsubmit = (submitted) => {
      submitted.preventDefault();
      steer("transfer", { to: document.getElementById("transfer-to").value });
    };
    document.getElementById("hang-up").onclick = () => { if (confirm(gettext("Hang up this call now?"))) steer("hang_up"); };
    document.getElementById("do-not-call").onclick = () => steer("do_not_call");
    const takeOver = document.getElementById("take-over");
    let microphone = null;
    takeOver.onclick = async () => {
      if (microphone) {
        microphone.stop();
        microphone = null;
        takeOver.textContent = gettext("Take over");
        await steer("hand_back");
        return;
      }
      if (!(await steer("take_over"))) return;
      microphone = await speak(takeOver.dataset.worklet);
      takeOver.textContent = gettext("Hand back");
    };
  }
})();
