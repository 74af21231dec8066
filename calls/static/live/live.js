/* Shared by the live pages: the WebSocket (reconnecting, refused for good on 4403), steering POSTs with
   Django's CSRF token, and small formatting helpers. No polling: the server pushes every change.
   Words are the operator's language: gettext/interpolate from Django's JavaScript catalogue (jsi18n, loaded by
   live/base.html), and the statuses' labels from the page (#live-labels, the models' own choices). */
"use strict";
window.Live = (function () {
  const TERMINAL = new Set(["completed", "busy", "no_answer", "failed", "canceled"]);
  const RANK = { queued: 0, initiated: 1, ringing: 2, in_progress: 3 };
  // Events from different processes can arrive out of order: a status never moves a call backwards here either.
  function later(current, next) {
    if (!current) return true;
    const rank = (status) => (TERMINAL.has(status) ? 4 : RANK[status] ?? 0);
    return rank(next) >= rank(current) && !TERMINAL.has(current);
  }
  const STAGES = [["stt_final", "STT"], ["llm_first_token", "LLM"], ["tts_first_byte", "TTS"],
    ["first_audio_sent", gettext("sent")], ["first_audio_heard", gettext("heard")]];
  const labels = JSON.parse((document.getElementById("live-labels") || {}).textContent || "{}");
  // A code's label in the operator's language ("in_progress" → "En curso"); an unknown code, spaced.
  function label(kind, code) { return (labels[kind] || {})[code] || (code || "").replace(/_/g, " "); }
  function who(role) {
    return role === "contact" ? gettext("Callee") : role === "agent" ? gettext("Agent") : gettext("Note");
  }

  function connect(path, onMessage, stateElement) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let delay = 500;
    function open() {
      const socket = new WebSocket(`${scheme}//${location.host}${path}`);
      socket.onopen = () => { delay = 500; show(gettext("live"), "up"); };
      socket.onmessage = (message) => onMessage(JSON.parse(message.data));
      socket.onclose = (closed) => {
        if (closed.code === 4403) { show(gettext("not allowed: you need the supervisor role"), "down"); return; }
        show(gettext("reconnecting…"), "down");
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
      window.liveSocket = socket;
    }
    function show(text, state) {
      if (!stateElement) return;
      stateElement.textContent = text;
      stateElement.className = `live-dot ${state}`;
    }
    open();
  }

  async function post(url, data) {
    const token = document.querySelector("[name=csrfmiddlewaretoken]").value;
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": token }, body: new URLSearchParams(data || {}),
    });
    let body = {};
    try { body = await response.json(); } catch (error) { body = { error: interpolate(gettext("The server answered %s."), [response.status]) }; }
    return { ok: response.ok, ...body };
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return `${m}:${String(s).padStart(2, "0")}`;
  }

  function latency(stages) {
    if (!stages) return "";
    return STAGES.filter(([key]) => stages[key] != null).map(([key, label]) => `${label} ${stages[key]}`).join(" · ")
      + (Object.keys(stages).length ? " ms" : "");
  }

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([name, value]) => {
      if (name === "class") node.className = value; else node.setAttribute(name, value);
    });
    children.forEach((child) => node.append(child == null ? "" : child));
    return node;
  }

  return { TERMINAL, STAGES, later, connect, post, duration, latency, element, label, who };
})();
