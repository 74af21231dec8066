/* The live board: active calls and each campaign's floor, kept current from `ws/calls/live/`.
   The page starts from the server's state (#board-state); every later change is a coalesced patch per call.
   Counters move as calls do: a call is counted once when it first starts and once when it ends. */
"use strict";
(function () {
  const { TERMINAL, later, connect, post, duration, latency, element, label, who } = window.Live;
  const state = JSON.parse(document.getElementById("board-state").textContent);
  const root = document.querySelector(".live-board");
  const maySteer = root.dataset.maySteer === "1";
  const skew = Date.now() - Date.parse(state.now); // the server's clock, as this browser sees it
  const calls = new Map(Object.entries(state.calls));
  const counted = { started: new Set(), ended: new Set() };
  const starts = []; // [campaign id, ms] of calls started since the page opened, for calls per second
  const CHART_MINUTES = 30, CPS_WINDOW_S = 10, LINGER_MS = 4000;
  const opened = Date.now();
  const DIALING = new Set(["queued", "initiated"]);
  const tbody = document.querySelector("#live-calls tbody");
  window.liveBoard = { calls, messages: 0 };

  Object.values(state.campaigns).forEach((campaign) => {
    const perMinute = campaign.today.per_minute || [];
    campaign.perMinute = Array.from({ length: CHART_MINUTES }, (_, i) => perMinute[i] || 0);
    campaign.chartMinute = Math.floor((Date.parse(state.now)) / 60000);
  });
  calls.forEach((row, id) => { counted.started.add(id); });

  function campaignOf(id) {
    const key = String(id);
    if (id != null && !state.campaigns[key]) {
      state.campaigns[key] = { name: interpolate(gettext("Campaign #%s"), [key]), status: "running", max_concurrent: null, cps_cap: null,
        today: { ended: 0, answered: 0, machine: 0 }, perMinute: Array(CHART_MINUTES).fill(0),
        chartMinute: Math.floor(Date.now() / 60000) };
    }
    return state.campaigns[key];
  }

  function shift(campaign, minute) {
    while (campaign.chartMinute < minute) { campaign.perMinute.shift(); campaign.perMinute.push(0); campaign.chartMinute += 1; }
  }

  function apply(id, patch) {
    const known = calls.get(id) || {};
    if (patch.status && !later(known.status, patch.status)) { patch = { ...patch }; delete patch.status; }
    const row = Object.assign(known, patch);
    calls.set(id, row);
    const campaign = row.campaign != null ? campaignOf(row.campaign) : null;
    if (row.started_at && !counted.started.has(id)) {
      counted.started.add(id);
      const at = Date.parse(row.started_at);
      starts.push([String(row.campaign), at]);
      if (campaign) { const minute = Math.floor(at / 60000); shift(campaign, minute); campaign.perMinute[CHART_MINUTES - 1] += 1; }
    }
    if (TERMINAL.has(row.status) && !counted.ended.has(id)) {
      counted.ended.add(id);
      row.endedSeen = Date.now();
      if (campaign) {
        campaign.today.ended += 1;
        if (row.answered_at) campaign.today.answered += 1;
        if ((row.answered_by || "").startsWith("machine")) campaign.today.machine += 1;
      }
    }
  }

  function rate(part, whole) { return whole ? `${Math.round((100 * part) / whole)} %` : "–"; }

  function chart(values) {
    const width = 180, height = 36, top = Math.max(1, ...values), bar = width / values.length;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("width", width); svg.setAttribute("height", height);
    svg.setAttribute("role", "img"); svg.setAttribute("aria-label", interpolate(gettext("calls per minute, last %s minutes"), [values.length]));
    values.forEach((value, i) => {
      const h = Math.round((value / top) * (height - 2));
      const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      rect.setAttribute("x", (i * bar + 0.5).toFixed(1)); rect.setAttribute("y", height - h);
      rect.setAttribute("width", Math.max(1, bar - 1).toFixed(1)); rect.setAttribute("height", h);
      svg.append(rect);
    });
    return svg;
  }

  function renderFloor(now) {
    const floor = document.getElementById("campaign-floor");
    floor.replaceChildren();
    Object.entries(state.campaigns).forEach(([id, campaign]) => {
      const live = [...calls.values()].filter((row) => String(row.campaign) === id && !TERMINAL.has(row.status));
      const count = (test) => live.filter(test).length;
      const active = count((row) => row.status !== "queued");
      const recent = starts.filter(([c, at]) => c === id && now - at <= CPS_WINDOW_S * 1000).length;
      const cps = recent / Math.min(CPS_WINDOW_S, Math.max(1, (now - opened) / 1000));
      shift(campaign, Math.floor(now / 60000));
      const over = (value, cap) => (cap != null && value > cap ? "over" : "");
      const card = element("div", { class: "floor-card", id: `campaign-${id}`, "data-campaign": id },
        element("h3", {}, `${campaign.name} `, element("span", { class: "status-pill campaign-status", "data-status": campaign.status }, label("campaign_status", campaign.status))),
        element("dl", {},
          element("dt", {}, gettext("dialing")), element("dd", { class: "dialing" }, count((r) => DIALING.has(r.status))),
          element("dt", {}, gettext("ringing")), element("dd", { class: "ringing" }, count((r) => r.status === "ringing")),
          element("dt", {}, gettext("talking")), element("dd", { class: "talking" }, count((r) => r.status === "in_progress")),
          element("dt", {}, gettext("completed today")), element("dd", { class: "completed" }, campaign.today.ended),
          element("dt", {}, gettext("connect rate")), element("dd", { class: "connect-rate" }, rate(campaign.today.answered, campaign.today.ended)),
          element("dt", {}, gettext("machine rate")), element("dd", { class: "machine-rate" }, rate(campaign.today.machine, campaign.today.answered)),
          element("dt", {}, gettext("calls/s held")), element("dd", { class: `cps ${over(cps, campaign.cps_cap)}` },
            `${cps.toFixed(2)} / ${campaign.cps_cap ?? "–"}`),
          element("dt", {}, gettext("concurrency")), element("dd", { class: `concurrency ${over(active, campaign.max_concurrent)}` },
            `${active} / ${campaign.max_concurrent ?? "–"}`)),
        chart(campaign.perMinute));
      if (maySteer && (campaign.status === "running" || campaign.status === "paused")) {
        const move = campaign.status === "running" ? "pause" : "resume";
        const button = element("button", { type: "button", class: "button pace", "data-move": move }, move === "pause" ? gettext("Pause campaign") : gettext("Resume campaign"));
        const result = element("span", { class: "result" });
        button.onclick = async () => {
          const answer = await post(`/live/campaigns/${id}/${move}/`);
          if (answer.ok) { campaign.status = answer.status; render(); } else { result.textContent = answer.error; }
        };
        card.append(button, " ", result);
      }
      floor.append(card);
    });
  }

  function renderCalls(now) {
    const rows = [...calls.entries()].filter(([, row]) => !TERMINAL.has(row.status) || now - row.endedSeen < LINGER_MS);
    rows.sort(([, a], [, b]) => (a.created_at || "").localeCompare(b.created_at || ""));
    tbody.replaceChildren(...rows.map(([id, row]) => {
      const since = row.answered_at || row.started_at || row.created_at;
      const until = row.ended_at ? Date.parse(row.ended_at) : now - skew;
      const said = row.last_utterance;
      const campaign = row.campaign != null ? campaignOf(row.campaign) : null;
      return element("tr", { id: `call-${id}`, "data-call": id, class: TERMINAL.has(row.status) ? "ended" : "" },
        element("td", {}, element("a", { href: `/live/calls/${id}/` }, row.phone || "–")),
        element("td", {}, campaign ? campaign.name : gettext("test call")),
        element("td", {}, state.agents[String(row.agent)] || "–"),
        element("td", {}, element("span", { class: `status-pill status-${row.status}` }, label("status", row.status)),
          row.answered_by ? ` ${label("answered_by", row.answered_by)}` : ""),
        element("td", { class: "duration" }, since ? duration((until - Date.parse(since)) / 1000) : "–"),
        element("td", { class: `utterance ${said && said.interrupted ? "cut" : ""}` },
          said ? `${who(said.role)}: ${said.text}` : ""),
        element("td", { class: "latency" }, latency(row.latency_ms)));
    }));
    document.getElementById("active-count").textContent = rows.filter(([, row]) => !TERMINAL.has(row.status)).length;
    document.getElementById("no-calls").hidden = rows.length > 0;
    calls.forEach((row, id) => { if (TERMINAL.has(row.status) && now - row.endedSeen >= LINGER_MS) calls.delete(id); });
  }

  function render() { const now = Date.now(); renderFloor(now); renderCalls(now); }

  connect("/ws/calls/live/", (message) => {
    window.liveBoard.messages += 1;
    Object.entries(message.calls || {}).forEach(([id, patch]) => apply(id, patch));
    render();
  }, document.getElementById("live-state"));
  setInterval(render, 1000); // durations tick and ended calls leave; nothing is fetched
  render();
})();
