/* The command room's live map (/command): the board (GET /api/v1/command/board), kept current by
   the event stream (GET /api/v1/stream, Server-Sent Events) without polling; in replay (?at=) the
   board as it stood at a moment, moved with a time slider. Beside the open incidents, the closed
   ones awaiting their callback (回访); the detail's close and callback steps are small forms.
   Every asset is served by the app. */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("config").textContent);
  const W = config.words;
  const LOCALE = config.lang === "en" ? "en-GB" : "zh-CN";
  const INCIDENT_COLOURS = {
    received: "#d7263d", dispatched: "#f08c00", arrived: "#1c6dd0",
    diverted: "#7b2cbf", accepted: "#1b998b",
  };
  const UNIT_COLOURS = {
    available: "#2a9d3f", dispatched: "#f08c00", on_scene: "#1c6dd0", off_duty: "#8a949e",
  };
  const OPEN = new Set(Object.keys(INCIDENT_COLOURS));
  const incidents = new Map(); // call_no -> board incident
  const awaiting = new Map(); // call_no -> closed, awaiting its callback
  const units = new Map(); // call_sign -> board unit
  const incidentMarkers = new Map();
  const unitMarkers = new Map();
  let selected = null;
  let boardAt = config.at ? new Date(config.at) : null;
  let lastEventId = 0;
  const recent = []; // the live events applied lately, oldest first (kept for a late board)
  let stepForm = null; // the open form of a step: { call, kind, node }
  let detailShown = 0; // the newest showDetail: an older one still answering draws nothing
  const ANSWERS = ["satisfied", "basically_satisfied", "unsatisfied"]; // a callback's, in order

  const map = L.map("map", { preferCanvas: false, zoomControl: true });
  map.setView([29.85, 120.34], 13);
  const beatLayer = L.geoJSON(null, {
    style: { color: "#12355b", weight: 1.5, fillColor: "#12355b", fillOpacity: 0.04 },
    onEachFeature: (f, layer) => layer.bindTooltip(String(f.properties.code || ""), { sticky: true }),
  }).addTo(map);
  const incidentLayer = L.layerGroup().addTo(map);
  const unitLayer = L.layerGroup().addTo(map);
  L.control.layers(null, { [W.beats]: beatLayer, [W.open_incidents]: incidentLayer, [W.units]: unitLayer },
    { collapsed: true }).addTo(map);
  drawLegend();

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
    return node;
  }

  function langQuery(params) {
    const q = new URLSearchParams(params || {});
    return q.toString() ? "?" + q.toString() : "";
  }

  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(r.status + " " + url);
    return r.json();
  }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, (_, k) => (values[k] == null ? "" : String(values[k])));
  }

  class Refused extends Error { // a problem+json answer, said in the page's language
    constructor(status, problem) {
      super(problem.detail || String(status));
      this.status = status;
      this.problem = problem;
    }
  }

  async function postJSON(url, body) {
    let r;
    try {
      r = await fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new Refused(0, {});
    }
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) throw new Refused(r.status, answer);
    return answer;
  }

  function said(error) { // a refusal in the page's words (the English detail is not shown)
    const p = error.problem || {};
    const E = W.errors;
    const field = (name) => W.fields[name] || name;
    if (!(error instanceof Refused) || error.status === 0) return E.network;
    if (error.status === 409 && Array.isArray(p.allowed)) {
      return fill(E.not_next, {
        status: (W.status[p.status] || p.status || "").toLocaleLowerCase(LOCALE),
        allowed: p.allowed.map((k) => W.step[k] || k).join(W.list_sep),
      });
    }
    if (error.status === 409 && p.call_sign) return fill(E.unit_busy, { call_sign: p.call_sign });
    if (error.status === 409 && p.differs) return E.call_no_taken;
    if (String(p.type).endsWith("/OutsideJurisdiction")) return E.outside;
    if (error.status === 422) return fill(E.invalid, { field: field(p.parameter || "") });
    if (error.status === 401) return E.sign_in;
    if (error.status === 403) return E.forbidden;
    if (error.status === 404) return p.parameter === "call_sign" ? E.no_unit : E.no_incident;
    if (error.status === 413) return E.too_large;
    return fill(E.status, { status: error.status });
  }

  function drawLegend() {
    const legend = document.getElementById("legend");
    legend.append(W.open_incidents + ":");
    for (const [k, c] of Object.entries(INCIDENT_COLOURS)) {
      legend.append(el("span", { class: "swatch", style: "background:" + c }), W.status[k]);
    }
    legend.append(el("br"), W.units + ":");
    for (const [k, c] of Object.entries(UNIT_COLOURS)) {
      legend.append(el("span", { class: "swatch unit", style: "background:" + c }), W.status[k]);
    }
  }

  // ------------------------------------------------------------------ beats and the board

  async function loadBeats() {
    const at = boardAt ? { at: boardAt.toISOString() } : {};
    const body = await getJSON("/api/v1/overview/layers" + langQuery({ layers: "beats", ...at }));
    beatLayer.clearLayers();
    if (body.beats) beatLayer.addData(body.beats);
    const bounds = beatLayer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [10, 10] });
  }

  async function loadBoard() {
    const at = boardAt ? { at: boardAt.toISOString() } : {};
    const board = await getJSON("/api/v1/command/board" + langQuery(at));
    incidents.clear();
    units.clear();
    awaiting.clear();
    for (const i of board.incidents) incidents.set(i.call_no, i);
    for (const a of board.awaiting_callback || []) awaiting.set(a.call_no, a);
    for (const u of board.units) units.set(u.call_sign, u);
    // a board read before events this page has applied already: those events again on top of it
    if (!boardAt) for (const e of recent) if (e.id > board.last_event_id) apply(e, true);
    lastEventId = Math.max(lastEventId, board.last_event_id);
    redraw();
    return board;
  }

  function now() {
    return boardAt || new Date();
  }

  function overdue(i) {
    const met = i.status === "diverted" || i.status === "accepted" ? i.accepted_at : i.arrived_at;
    return !met && i.due_at && now() > new Date(i.due_at);
  }

  function age(i) {
    const seconds = Math.max(0, Math.round((now() - new Date(i.received_at)) / 1000));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
    return (h ? h + ":" + mm : m) + ":" + ss;
  }

  function waited(a) { // how long a closed call has waited for its callback: 2天3小时, 45 min
    const minutes = Math.max(0, Math.floor((now() - new Date(a.closed_at)) / 60000));
    const d = Math.floor(minutes / 1440), h = Math.floor((minutes % 1440) / 60), m = minutes % 60;
    if (d) return fill(W.waited_dh, { d, h });
    if (h) return fill(W.waited_hm, { h, m });
    return fill(W.waited_m, { m });
  }

  function drawIncident(i) {
    let marker = incidentMarkers.get(i.call_no);
    const minutes = (now() - new Date(i.received_at)) / 60000;
    const style = {
      radius: minutes < 5 ? 7 : minutes < 30 ? 9 : 11,
      color: overdue(i) ? "#c00000" : "#ffffff",
      dashArray: overdue(i) ? "3 3" : null,
      weight: 2, fillColor: INCIDENT_COLOURS[i.status] || "#555", fillOpacity: 0.9,
      className: "incident incident-" + i.call_no,
    };
    if (!marker) {
      marker = L.circleMarker([i.lat, i.lon], style).addTo(incidentLayer);
      marker.on("click", () => select(i.call_no));
      incidentMarkers.set(i.call_no, marker);
    } else {
      marker.setLatLng([i.lat, i.lon]);
      marker.setStyle(style);
    }
    marker.getElement()?.setAttribute("data-status", i.status);
    marker.bindTooltip(i.call_no + " · " + (W.categories[i.category] || i.category) + " · " +
      W.status[i.status] + " · " + age(i));
  }

  function drawUnit(u) {
    let marker = unitMarkers.get(u.call_sign);
    if (u.lon == null || u.lat == null) {
      if (marker) { unitLayer.removeLayer(marker); unitMarkers.delete(u.call_sign); }
      return;
    }
    const style = {
      radius: 6, color: "#1d2733", weight: 1.5, fillColor: UNIT_COLOURS[u.status] || "#555",
      fillOpacity: 1, className: "unit unit-" + u.call_sign,
    };
    if (!marker) {
      marker = L.circleMarker([u.lat, u.lon], style).addTo(unitLayer);
      marker.bindTooltip(u.call_sign, { permanent: true, direction: "right", className: "unit-label" });
      unitMarkers.set(u.call_sign, marker);
    } else {
      marker.setLatLng([u.lat, u.lon]);
      marker.setStyle(style);
    }
    marker.getElement()?.setAttribute("data-status", u.status);
  }

  function redraw() {
    for (const [call, marker] of incidentMarkers) {
      if (!incidents.has(call)) { incidentLayer.removeLayer(marker); incidentMarkers.delete(call); }
    }
    for (const [sign, marker] of unitMarkers) {
      if (!units.has(sign)) { unitLayer.removeLayer(marker); unitMarkers.delete(sign); }
    }
    for (const i of incidents.values()) drawIncident(i);
    for (const u of units.values()) drawUnit(u);
    drawList();
    drawAwaiting();
  }

  function drawList() {
    const list = document.getElementById("incident-list");
    const open = [...incidents.values()].sort((a, b) => new Date(a.received_at) - new Date(b.received_at));
    document.getElementById("open-count").textContent = "(" + open.length + ")";
    list.replaceChildren(...open.map((i) => el("li", {
      "data-call": i.call_no, "data-status": i.status,
      class: (overdue(i) ? "overdue " : "") + (i.call_no === selected ? "selected" : ""),
      onclick: () => select(i.call_no),
    },
    el("span", {}, el("span", { class: "status", style: "background:" + INCIDENT_COLOURS[i.status] }, W.status[i.status]),
      " ", i.call_no, " · ", W.categories[i.category] || i.category, i.grid ? " · " + i.grid : ""),
    el("span", { class: "timer", title: W.due + " " + new Date(i.due_at).toLocaleTimeString(LOCALE) }, age(i)))));
    if (!open.length) list.append(el("li", { class: "none" }, W.none_open));
  }

  function drawAwaiting() { // closed, awaiting the callback: the longest waiting first
    const list = document.getElementById("awaiting-list");
    const since = now() - config.callback_days * 86400000;
    for (const [call, a] of awaiting) if (new Date(a.closed_at) <= since) awaiting.delete(call);
    const waiting = [...awaiting.values()].sort((a, b) =>
      new Date(a.closed_at) - new Date(b.closed_at) || (a.call_no < b.call_no ? -1 : 1));
    document.getElementById("awaiting-count").textContent = "(" + waiting.length + ")";
    list.replaceChildren(...waiting.map((a) => el("li", {
      "data-call": a.call_no, class: a.call_no === selected ? "selected" : "",
      onclick: () => select(a.call_no),
    },
    el("span", {}, a.call_no, " · ", W.categories[a.category] || a.category, a.grid ? " · " + a.grid : ""),
    el("span", { class: "timer", title: W.closed_at + " " + new Date(a.closed_at).toLocaleString(LOCALE) }, waited(a)))));
    if (!waiting.length) list.append(el("li", { class: "none" }, W.none_awaiting));
  }

  function tick() {
    if (boardAt) return;
    drawList();
    drawAwaiting();
    for (const i of incidents.values()) drawIncident(i);
  }

  // ------------------------------------------------------------------ the live stream

  let refetch = null;
  function refetchBoard() { // a new call: its target and areas come with the board
    clearTimeout(refetch);
    refetch = setTimeout(() => loadBoard().catch(() => {}), 250);
  }

  function apply(event, again = false) {
    const p = event.payload || {};
    lastEventId = Math.max(lastEventId, event.id);
    if (!again) {
      recent.push(event);
      if (recent.length > 1000) recent.shift();
    }
    if (event.kind === "incident") {
      const known = incidents.get(p.call_no);
      if (!OPEN.has(p.status)) {
        incidents.delete(p.call_no);
      } else if (known) {
        known.status = p.status;
        known.lon = p.lon; known.lat = p.lat;
      } else {
        incidents.set(p.call_no, {
          call_no: p.call_no, status: p.status, category: p.category, received_at: p.received_at,
          due_at: null, arrived_at: null, accepted_at: null, call_signs: [], lon: p.lon, lat: p.lat,
          grid: null, beat: null, age_seconds: 0,
        });
        refetchBoard();
      }
      redraw();
    } else if (event.kind === "unit") {
      const u = units.get(p.call_sign) || { call_sign: p.call_sign, unit_kind: null };
      Object.assign(u, { status: p.status, call_no: p.call_no, lon: p.lon, lat: p.lat, fixed_at: p.fixed_at });
      units.set(p.call_sign, u);
      drawUnit(u);
    } else if (event.kind === "step") {
      const i = incidents.get(p.call_no);
      if (i && p.step === "dispatch" && p.call_sign && !i.call_signs.includes(p.call_sign)) i.call_signs.push(p.call_sign);
      if (i && p.step === "arrive" && !i.arrived_at) i.arrived_at = p.at;
      if (i && p.step === "accept" && !i.accepted_at) i.accepted_at = p.at;
      if (p.step === "close") closed(i, p);
      if (p.step === "callback" && awaiting.delete(p.call_no)) drawAwaiting();
      if (p.call_no === selected) showDetail(selected);
    }
  }

  function closed(i, p) { // a close puts a police call on the awaiting-callback list
    if (!i) { refetchBoard(); return; } // not on the board: the board knows its place
    if (i.category === "non_police") return;
    awaiting.set(p.call_no, {
      call_no: p.call_no, category: i.category, received_at: i.received_at, closed_at: p.at,
      call_signs: [...(i.call_signs || [])], lon: i.lon, lat: i.lat, grid: i.grid, beat: i.beat,
    });
    drawAwaiting();
  }

  function listen() {
    const state = document.getElementById("stream-state");
    const source = new EventSource("/api/v1/stream" + langQuery({ after: lastEventId }));
    source.onopen = () => { state.textContent = W.connected; state.className = "stream-state ok"; };
    source.onmessage = (m) => apply(JSON.parse(m.data));
    source.addEventListener("reset", () => loadBoard().catch(() => {}));
    source.addEventListener("signed_out", () => {
      source.close();
      state.textContent = W.signed_out; state.className = "stream-state bad";
    });
    source.onerror = () => { state.textContent = W.reconnecting; state.className = "stream-state bad"; };
  }

  // ------------------------------------------------------------------ one incident

  function select(call) {
    selected = call;
    drawList();
    drawAwaiting();
    showDetail(call);
  }

  async function incidentOf(call) { // an incident on neither list (closed, called back): the API's
    const inc = await getJSON("/api/v1/incidents/" + encodeURIComponent(call));
    const signs = inc.timeline.filter((s) => s.kind === "dispatch" && s.call_sign).map((s) => s.call_sign);
    return { call_no: call, category: inc.category, received_at: inc.received_at, lon: inc.lon, lat: inc.lat,
      call_signs: [...new Set(signs)] };
  }

  async function showDetail(call) {
    const mine = ++detailShown;
    const box = document.getElementById("detail");
    const body = document.getElementById("detail-body");
    box.hidden = false;
    document.getElementById("detail-call").textContent = call;
    let i = incidents.get(call) || awaiting.get(call);
    if (!i) {
      try { i = await incidentOf(call); } catch (e) { if (mine === detailShown) body.replaceChildren(); return; }
    }
    const open = incidents.has(call);
    const at = boardAt ? { at: boardAt.toISOString() } : {};
    const [lookup, incident, recommend] = await Promise.allSettled([
      getJSON("/api/v1/lookup" + langQuery({ lon: i.lon, lat: i.lat, ...at })),
      getJSON("/api/v1/incidents/" + encodeURIComponent(call)),
      boardAt || !open ? Promise.reject(new Error("not open")) : getJSON("/api/v1/incidents/" + encodeURIComponent(call) + "/recommend"),
    ]);
    if (selected !== call || mine !== detailShown) return;
    const parts = [];
    const waiting = awaiting.get(call);
    parts.push(el("dl", {},
      el("dt", {}, W.category), el("dd", {}, W.categories[i.category] || i.category),
      el("dt", {}, W.received_at), el("dd", {}, new Date(i.received_at).toLocaleString(LOCALE)),
      ...(waiting ? [el("dt", {}, W.closed_at), el("dd", {}, new Date(waiting.closed_at).toLocaleString(LOCALE))]
        : [el("dt", {}, W.age), el("dd", {}, age(i))]),
      el("dt", {}, W.units), el("dd", {}, (i.call_signs || []).join(", ") || "—")));
    if (lookup.status === "fulfilled") {
      const a = lookup.value;
      parts.push(el("h4", {}, W.covers));
      parts.push(el("ul", {}, ...a.people.map((p) => el("li", {}, p.name + " · " + (W.roles[p.role] || p.role) + (p.phone ? " · " + p.phone : "")))));
      parts.push(el("h4", {}, W.cameras));
      parts.push(a.cameras.length
        ? el("ul", {}, ...a.cameras.map((c) => el("li", {}, c.code + " " + c.name + " · " + Math.round(c.distance_m) + " m")))
        : el("p", { class: "none" }, W.no_cameras));
    }
    const dispatchable = incident.status === "fulfilled" && (incident.value.next_steps || []).includes("dispatch");
    if (recommend.status === "fulfilled" && config.dispatch && dispatchable) {
      parts.push(el("h4", {}, W.recommend));
      parts.push(el("table", {}, el("tr", {}, el("th", {}, W.units), el("th", {}, W.road_minutes),
        el("th", {}, W.distance_m), el("th", {}, W.own_beat), el("th", {})),
      ...recommend.value.units.slice(0, 8).map((u) => el("tr", {},
        el("td", {}, u.call_sign), el("td", {}, u.road_minutes == null ? "—" : u.road_minutes.toFixed(1)),
        el("td", {}, u.distance_m == null ? "—" : Math.round(u.distance_m)), el("td", {}, u.own_beat ? "✓" : ""),
        el("td", {}, el("button", { class: "secondary", onclick: () => step(call, { kind: "dispatch", call_sign: u.call_sign }) }, W.send))))));
    }
    let form = null;
    if (incident.status === "fulfilled") {
      const inc = incident.value;
      if (config.dispatch && !boardAt) {
        const next = (inc.next_steps || []).filter((k) => k !== "dispatch" && k !== "note");
        const buttons = next.map((k) => el("button", {
          class: "secondary", "data-step": k,
          onclick: () => (FORMS.has(k) ? openForm(call, k) : step(call, stepBody(k, inc))),
        }, W.step[k] || k));
        if (buttons.length) parts.push(el("h4", {}, W.next_steps), el("div", { class: "steps" }, ...buttons));
        if (stepForm && stepForm.call === call && next.includes(stepForm.kind)) form = stepForm.node;
        else stepForm = null;
        if (form) parts.push(form);
      }
      parts.push(el("h4", {}, W.timeline));
      parts.push(el("ol", {}, ...inc.timeline.map((s) => el("li", { "data-step": s.kind },
        new Date(s.at).toLocaleTimeString(LOCALE) + " " + (W.step[s.kind] || s.kind) +
        (s.call_sign ? " " + s.call_sign : "") +
        (s.result ? " · " + (s.kind === "callback" ? W.callback_answers[s.result] || s.result : s.result) : "") +
        (s.note ? " · " + s.note : "") +
        (s.source === "automatic" ? " (" + W.automatic + ")" : "")))));
    }
    const focused = form && form.contains(document.activeElement) ? document.activeElement : null;
    body.replaceChildren(...parts);
    if (focused) focused.focus();
  }

  const FORMS = new Set(["close", "callback"]); // steps that ask for words first

  function openForm(call, kind) { // a small form under the buttons: close (result) or callback
    if (stepForm && stepForm.call === call && stepForm.kind === kind && stepForm.node.isConnected) {
      (stepForm.node.querySelector("textarea") || stepForm.node.querySelector("input"))?.focus();
      return;
    }
    const answer = el("p", { class: "answer", role: "status" });
    const fields = kind === "close"
      ? [el("label", {}, W.result, el("textarea", { name: "result", required: "", maxlength: "200", rows: "2",
        placeholder: W.result_hint }))]
      : [el("fieldset", { class: "answers" }, el("legend", {}, W.callback_answer),
        ...ANSWERS.map((value) => el("label", {},
          el("input", { type: "radio", name: "result", value, required: "" }), " ", W.callback_answers[value]))),
      el("label", {}, W.note_optional, el("textarea", { name: "note", maxlength: "4000", rows: "2" }))];
    const node = el("form", { class: "stacked step-form", "data-step": kind, novalidate: "" },
      el("h4", {}, W.step[kind]), ...fields,
      el("div", { class: "buttons" },
        el("button", { type: "submit" }, W.submit[kind]),
        el("button", { type: "button", class: "secondary", onclick: () => { stepForm = null; node.remove(); } }, W.dismiss)),
      answer);
    node.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { kind };
      if (kind === "close") {
        body.result = node.result.value.trim();
        if (!body.result) { answer.className = "answer error"; answer.textContent = W.errors.result_required; return; }
      } else {
        const chosen = node.querySelector("input[name=result]:checked");
        if (!chosen) { answer.className = "answer error"; answer.textContent = W.errors.answer_required; return; }
        body.result = chosen.value;
        const note = node.note.value.trim();
        if (note) body.note = note;
      }
      node.querySelector("button[type=submit]").disabled = true;
      const done = await step(call, body, answer);
      node.querySelector("button[type=submit]").disabled = false;
      if (done && stepForm && stepForm.node === node) { stepForm = null; node.remove(); }
    });
    stepForm = { call, kind, node };
    const steps = document.querySelector("#detail-body .steps");
    document.querySelector("#detail-body .step-form")?.remove();
    if (steps) steps.after(node);
    (node.querySelector("textarea[name=result]") || node.querySelector("input"))?.focus();
  }

  function stepBody(kind, incident) {
    if (kind === "arrive") return { kind, call_sign: (incident.units[0] || {}).call_sign };
    return { kind };
  }

  async function step(call, body, answer) { // true when stored; a refusal is said in `answer`
    try {
      await postJSON("/api/v1/incidents/" + encodeURIComponent(call) + "/events", body);
    } catch (e) {
      const text = W.failed + ": " + said(e);
      if (answer) { answer.className = "answer error"; answer.textContent = text; }
      else document.getElementById("detail-body").prepend(el("p", { class: "error" }, text));
      return false;
    }
    showDetail(call);
    return true;
  }

  // ------------------------------------------------------------------ call intake

  function setUpIntake() {
    const form = document.getElementById("intake");
    if (!form) return;
    // a number to the millisecond with two random digits: two call-takers taking calls in the
    // same second do not clash (the 110 system's own number may be typed over it)
    const fresh = () => {
      const stamp = new Date().toISOString().replace(/\D/g, "").slice(2, 17);
      form.call_no.value = "110" + stamp + String(Math.floor(Math.random() * 100)).padStart(2, "0");
    };
    fresh();
    // a non-police call goes to the response team unless the call-taker keeps it
    const divertRow = document.getElementById("divert-row");
    const showDivert = () => { divertRow.hidden = form.category.value !== "non_police"; };
    form.category.addEventListener("change", showDivert);
    showDivert();
    map.on("click", (e) => {
      form.lon.value = e.latlng.lng.toFixed(6);
      form.lat.value = e.latlng.lat.toFixed(6);
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const answer = document.getElementById("intake-answer");
      const body = {
        call_no: form.call_no.value, lon: Number(form.lon.value), lat: Number(form.lat.value),
        category: form.category.value,
      };
      for (const k of ["caller_phone", "address", "description"]) if (form[k].value) body[k] = form[k].value;
      if (body.category === "non_police") body.divert = form.divert.checked;
      try {
        const taken = await postJSON("/api/v1/incidents", body);
        answer.className = "answer";
        answer.textContent = W.taken + ": " + body.call_no;
        form.reset();  // the next call starts empty (and diverted unless kept again)
        fresh();
        showDivert();
        if (taken.incident) select(taken.incident.call_no);
      } catch (err) {
        answer.className = "answer error";
        answer.textContent = W.failed + ": " + said(err);
      }
    });
  }

  // ------------------------------------------------------------------ replay

  function setUpReplay() {
    const slider = document.getElementById("replay-slider");
    const output = document.getElementById("replay-at");
    const end = new Date(config.at);
    slider.min = String(-60 * config.window_hours);
    const show = () => { output.textContent = boardAt.toLocaleString(LOCALE); };
    show();
    let pending = null;
    slider.addEventListener("input", () => {
      boardAt = new Date(end.getTime() + Number(slider.value) * 60000);
      show();
      clearTimeout(pending);
      pending = setTimeout(() => {
        const url = new URL(window.location.href);
        url.searchParams.set("at", boardAt.toISOString());
        history.replaceState(null, "", url);
        loadBoard().catch(() => {});
      }, 150);
    });
  }

  // ------------------------------------------------------------------ start

  loadBeats().catch(() => {});
  loadBoard().then(() => {
    if (boardAt) setUpReplay();
    else { listen(); setInterval(tick, 1000); }
  });
  setUpIntake();
  window.commandBoard = { incidents, units, awaiting }; // for the page's tests
})();
