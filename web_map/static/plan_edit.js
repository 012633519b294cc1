// The planner's page (/plans/{code}/edit): grids coloured by beat with the beats' outlines
// (unions of their grids, from the service), moves by click or brush, locks, undo and redo,
// beats added, renamed, given their community officer and removed (empty ones), each beat's
// workload (when the service has it), a rebalance shown on the map before it is applied, the
// diff against the plan in force, publication. Every asset is served by the app.
// Undo and redo cover grid moves and beat edits alike: an entry is {moves: [[grid, from, to]]}
// or {beats: {forward: changes, backward: changes}}, each sent as a new edit of the plan.
(() => {
  "use strict";
  const cfg = JSON.parse(document.getElementById("plan-config").textContent);
  const W = cfg.words;
  const CODE = encodeURIComponent(cfg.code);
  const API = `/api/v1/plans/${CODE}`;
  const PALETTE = ["#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69",
    "#fccde5", "#bc80bd", "#ccebc5", "#ffed6f", "#a6cee3", "#b2df8a", "#fb9a99", "#cab2d6",
    "#e5c494", "#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3"];

  const state = {
    plan: null, version: 0, beatOf: {}, lockedGrids: new Set(), beats: [], colors: {},
    selected: null, mode: "click", undo: [], redo: [], busy: false,
    workload: null, workloadAvailable: null, weights: null, tolerance: 0.10, proposal: null,
    officers: [],
  };
  window.planPage = state;  // for the page's tests: what the page holds

  const $ = (id) => document.getElementById(id);
  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? "");
  const esc = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => (
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c]));

  function say(text, kind = "notice") {
    const box = $("message");
    box.hidden = !text;
    box.className = `message ${kind}`;
    box.textContent = text || "";
  }

  async function call(method, url, body) {
    const reply = await fetch(url, {
      method, headers: body ? {"Content-Type": "application/json"} : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try { data = await reply.json(); } catch (e) { data = null; }
    return {ok: reply.ok, status: reply.status, data};
  }

  // ------------------------------------------------------------------------------ the map
  const map = L.map("map", {zoomSnap: 0.25, attributionControl: false, boxZoom: false});
  state.map = map;
  const gridLayers = {};
  let gridsLayer = null;
  let outlineLayer = L.layerGroup().addTo(map);
  const proposalLayer = L.layerGroup().addTo(map);
  const diffLayer = L.layerGroup().addTo(map);

  function gridStyle(code) {
    const beat = state.beatOf[code];
    const locked = state.lockedGrids.has(code) || (beat && state.beatLocked[beat]);
    return {
      fillColor: beat ? state.colors[beat] : "#d9d9d9", fillOpacity: 0.75,
      color: locked ? "#222" : "#7a8591", weight: locked ? 2 : 0.7,
      dashArray: locked ? "4 3" : null,
    };
  }

  function restyle(codes) {
    for (const code of codes || Object.keys(gridLayers)) {
      if (gridLayers[code]) gridLayers[code].setStyle(gridStyle(code));
    }
  }

  async function drawOutlines() {
    const reply = await fetch(`/api/v1/layers/beat.geojson?plan=${CODE}`);
    if (!reply.ok) return;
    const outlines = await reply.json();
    const layer = L.geoJSON(outlines, {
      interactive: false,
      style: () => ({color: "#12355b", weight: 2.5, fill: false}),
      onEachFeature: (feature, lyr) => lyr.bindTooltip(feature.properties.code, {
        permanent: true, direction: "center", className: "beat-label",
      }),
    });
    map.removeLayer(outlineLayer);
    outlineLayer = layer.addTo(map);
  }

  let brushing = false;
  const stroke = new Set();

  function onGridDown(code, event) {
    if (!cfg.can_edit || state.mode !== "brush") return;
    L.DomEvent.stop(event);
    brushing = true;
    stroke.clear();
    addToStroke(code);
  }

  function addToStroke(code) {
    if (!brushing || !state.selected || state.beatOf[code] === state.selected) return;
    stroke.add(code);
    gridLayers[code].setStyle({fillColor: state.colors[state.selected], weight: 2, color: "#000"});
  }

  document.addEventListener("mouseup", () => {
    if (!brushing) return;
    brushing = false;
    const moves = {};
    for (const code of stroke) moves[code] = state.selected;
    stroke.clear();
    if (Object.keys(moves).length) applyMoves(moves, "do");
  });

  function onGridClick(code) {
    if (!cfg.can_edit) return;
    if (state.mode === "lock") { toggleGridLock(code); return; }
    if (state.mode !== "click") return;
    if (!state.selected) { say(W.pick_beat, "warning"); return; }
    if (state.beatOf[code] === state.selected) return;
    applyMoves({[code]: state.selected}, "do");
  }

  async function loadGrids() {
    const reply = await fetch("/api/v1/layers/grid.geojson");
    const grids = await reply.json();
    gridsLayer = L.geoJSON(grids, {
      style: (feature) => ({...gridStyle(feature.properties.code),
        className: `grid grid-${feature.properties.code}`}),
      onEachFeature: (feature, lyr) => {
        const code = feature.properties.code;
        gridLayers[code] = lyr;
        lyr.bindTooltip(() => `${esc(feature.properties.name)} ${esc(code)} · ${
          esc(state.beatOf[code] || W.no_grid_beat)}`, {sticky: true});
        lyr.on("click", () => onGridClick(code));
        lyr.on("mousedown", (e) => onGridDown(code, e.originalEvent));
        lyr.on("mouseover", () => addToStroke(code));
      },
    }).addTo(map);
    map.fitBounds(gridsLayer.getBounds());
  }

  // ----------------------------------------------------------------------------- the plan
  function takePlan(plan) {
    state.plan = plan;
    state.version = plan.version;
    $("version").textContent = plan.version;
    state.beatOf = {};
    state.beatLocked = {};
    state.beats = plan.beats;
    plan.beats.forEach((beat, i) => {
      if (!state.colors[beat.code]) {
        const taken = new Set(plan.beats.map((b) => state.colors[b.code]).filter(Boolean));
        state.colors[beat.code] = PALETTE.find((c) => !taken.has(c)) || PALETTE[i % PALETTE.length];
      }
      state.beatLocked[beat.code] = beat.locked;
      for (const grid of beat.grids) state.beatOf[grid] = beat.code;
    });
    state.lockedGrids = new Set(plan.locked_grids);
    if (state.selected && !(state.selected in state.beatLocked)) state.selected = null;
  }

  async function loadPlan() {
    const reply = await call("GET", API);
    if (!reply.ok) { say(reply.data?.detail || String(reply.status), "error"); return; }
    takePlan(reply.data);
    drawPicker();
    drawBeatEditor();
    drawLegend();
    restyle();
  }

  function drawPicker() {
    const picker = $("beat-picker");
    if (!picker) return;
    picker.innerHTML = "";
    for (const beat of state.beats) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.beat = beat.code;
      button.style.background = state.colors[beat.code];
      button.textContent = beat.code;
      button.title = beat.name;
      button.className = beat.code === state.selected ? "selected" : "";
      button.addEventListener("click", () => {
        state.selected = beat.code;
        drawPicker();
        drawBeatEditor();
      });
      picker.appendChild(button);
    }
  }

  function drawLegend() {
    $("legend").innerHTML = state.beats.map((b) =>
      `<div><span class="swatch" style="background:${state.colors[b.code]}"></span>${
        esc(b.code)} ${esc(b.name)}${b.officer ? ` · ${esc(b.officer.name)}` : ""}</div>`).join("");
  }

  // context: what the edit was about ({beat}), for the words of a refusal
  async function refused(reply, context = {}) {
    const problem = reply.data || {};
    if (reply.status === 409 && problem.refused === "stale") {
      const changes = (problem.changes || []).map((c) => `v${c.version} ${c.actor} ${c.kind}`);
      say(`${fmt(W.stale, {version: problem.version})} ${changes.join("; ")}`, "warning");
      state.undo.length = 0;
      state.redo.length = 0;
      await loadPlan();
      await afterChange();
      return;
    }
    let kind = problem.refused;
    if (kind === "not_empty" && !(problem.grids || []).length) kind = "history";
    // the words name a beat: a refused move (a locked grid) keeps the service's detail
    const aboutBeat = ["not_empty", "history", "locked"].includes(kind);
    const known = !aboutBeat || context.beat ? W.refusals[kind] : null;
    const text = known
      ? fmt(known, {beat: problem.beat || context.beat || "", n: (problem.grids || []).length,
        detail: problem.detail || ""})
      : problem.detail || reply.status;
    say(`${W.refused} ${text}`, "error");
    $("message").title = problem.detail || "";
    restyle();
  }

  // kind: "do" (a new edit: undo gets it, redo is cleared), "undo" or "redo"
  async function applyMoves(moves, kind) {
    if (state.busy) return false;
    state.busy = true;
    try {
      const body = {version: state.version,
        moves: Object.entries(moves).map(([grid, beat]) => ({grid, beat}))};
      const reply = await call("PATCH", `${API}/grids`, body);
      if (!reply.ok) { await refused(reply); return false; }
      state.version = reply.data.version;
      $("version").textContent = state.version;
      const done = reply.data.moved;
      for (const m of done) state.beatOf[m.grid] = m.to;
      for (const beat of state.beats) {
        beat.grids = Object.keys(state.beatOf).filter((g) => state.beatOf[g] === beat.code);
      }
      if (done.length) {
        // an entry is always the edit forwards, [grid, from, to]: undo goes to from, redo to to
        if (kind === "undo") state.redo.push({moves: done.map((m) => [m.grid, m.to, m.from])});
        else state.undo.push({moves: done.map((m) => [m.grid, m.from, m.to])});
        if (kind === "do") state.redo.length = 0;
      }
      restyle(done.map((m) => m.grid));
      say(fmt(W.saved, {version: state.version}));
      await afterChange();
      return true;
    } finally {
      state.busy = false;
      drawUndo();
    }
  }

  function drawUndo() {
    if (!$("undo")) return;
    $("undo").disabled = !state.undo.length;
    $("redo").disabled = !state.redo.length;
  }

  async function undo() {
    const entry = state.undo.pop();
    if (!entry) return;
    const ok = entry.moves
      ? await applyMoves(Object.fromEntries(entry.moves.map(([grid, from]) => [grid, from])), "undo")
      : await editBeats(entry.beats.backward, entry.beats.forward, "undo");
    if (!ok) state.undo.push(entry);
    drawUndo();
  }

  async function redo() {
    const entry = state.redo.pop();
    if (!entry) return;
    const ok = entry.moves
      ? await applyMoves(Object.fromEntries(entry.moves.map(([grid, , to]) => [grid, to])), "redo")
      : await editBeats(entry.beats.forward, entry.beats.backward, "redo");
    if (!ok) state.redo.push(entry);
    drawUndo();
  }

  // ------------------------------------------------------------------------------- beats
  // What undoes changes, worked out from the plan as the page holds it before they are made.
  function inverseOf(changes) {
    const beats = Object.fromEntries(state.beats.map((b) => [b.code, b]));
    const back = [];
    for (const c of changes) {
      const beat = beats[c.beat];
      if (!beat && c.op !== "add") continue;  // the service refuses it: nothing to undo
      if (c.op === "add") back.unshift({op: "remove", beat: c.beat});
      else if (c.op === "remove") {
        const again = [{op: "add", beat: c.beat, name: beat.name}];
        if (beat.officer) again.push({op: "officer", beat: c.beat, person: beat.officer.code});
        back.unshift(...again);
      } else if (c.op === "rename") back.unshift({op: "rename", beat: c.beat, name: beat.name});
      else if (c.op === "officer") {
        back.unshift({op: "officer", beat: c.beat, person: beat.officer ? beat.officer.code : null});
      }
    }
    return back;
  }

  // kind as for applyMoves; `inverse` undoes `changes`
  async function editBeats(changes, inverse, kind) {
    if (state.busy) return false;
    state.busy = true;
    try {
      const reply = await call("PATCH", `${API}/beats`, {version: state.version, changes});
      if (!reply.ok) { await refused(reply, {beat: changes[0]?.beat}); return false; }
      const entry = kind === "undo"
        ? {beats: {forward: inverse, backward: changes}}
        : {beats: {forward: changes, backward: inverse}};
      if (kind === "undo") state.redo.push(entry); else state.undo.push(entry);
      if (kind === "do") state.redo.length = 0;
      const added = changes.find((c) => c.op === "add");
      if (added && kind === "do") state.selected = added.beat;
      await loadPlan();
      await loadOfficers();
      say(fmt(W.saved, {version: state.version}));
      await afterChange();
      return true;
    } finally {
      state.busy = false;
      drawUndo();
    }
  }

  function changeBeats(changes) {
    return editBeats(changes, inverseOf(changes), "do");
  }

  async function loadOfficers() {
    if (!$("beat-edit")) return;
    const reply = await call("GET", `${API}/officers`);
    if (!reply.ok) { say(reply.data?.detail || String(reply.status), "error"); return; }
    state.officers = reply.data;
    drawBeatEditor();
  }

  function drawBeatEditor() {
    const box = $("beat-edit");
    if (!box) return;
    const beat = state.beats.find((b) => b.code === state.selected);
    box.hidden = !beat;
    $("beat-edit-none").hidden = !!beat;
    if (!beat) return;
    $("beat-edit-code").textContent = `${beat.code} ${beat.name}`;
    $("rename-beat").elements.name.value = beat.name;
    const select = $("officer-beat").elements.person;
    const current = beat.officer ? beat.officer.code : "";
    const listed = state.officers.some((o) => o.code === current);
    select.innerHTML = `<option value="">${esc(W.no_officer)}</option>${
      !listed && current ? `<option value="${esc(current)}">${esc(beat.officer.name)} (${esc(current)})</option>` : ""}${
      state.officers.map((o) => `<option value="${esc(o.code)}">${esc(o.name)} (${esc(o.code)})${
        o.beats.length ? ` · ${esc(fmt(W.officer_holds, {beats: o.beats.join(", ")}))}` : ""}</option>`).join("")}`;
    select.value = current;
  }

  async function setLocks(grids, beats) {
    const reply = await call("PATCH", `${API}/locks`, {version: state.version, grids, beats});
    if (!reply.ok) { await refused(reply); return; }
    await loadPlan();
    say(fmt(W.saved, {version: state.version}));
    await drawWorkload();
  }

  function toggleGridLock(code) {
    if (!state.beatOf[code]) return;
    setLocks({[code]: !state.lockedGrids.has(code)}, {});
  }

  // ------------------------------------------------------------------- workload and table
  async function afterChange() {
    drawOutlines();
    clearProposal();
    await drawWorkload();
  }

  async function fetchWorkload() {
    if (!cfg.has_workload || state.workloadAvailable === false) return null;
    const body = state.weights ? {weights: state.weights.parts, categories: state.weights.categories} : {};
    const reply = await call("POST", `${API}/workload`, body);
    if (reply.status === 404 || reply.status === 405) {  // the plan is there: the route is not
      state.workloadAvailable = false;
      return null;
    }
    if (!reply.ok) { say(reply.data?.detail || String(reply.status), "error"); return null; }
    state.workloadAvailable = true;
    return reply.data;
  }

  function cell(value, cls = "num") { return `<td class="${cls}">${esc(value)}</td>`; }

  async function drawWorkload() {
    const workload = await fetchWorkload();
    state.workload = workload;
    const thead = document.querySelector("#beats thead");
    const tbody = document.querySelector("#beats tbody");
    $("workload-note").hidden = !!workload;
    if ($("rebalance")) $("rebalance").hidden = !(workload && cfg.has_balance);
    const lock = (code) => `<input type="checkbox" class="beat-lock" data-beat="${esc(code)}"${
      state.beatLocked[code] ? " checked" : ""}${cfg.can_edit ? "" : " disabled"}>`;
    if (!workload) {
      thead.innerHTML = `<tr><th>${W.beat}</th><th>${W.name}</th><th>${W.officer}</th><th>${
        W.grids}</th><th>${W.locked}</th></tr>`;
      tbody.innerHTML = state.beats.map((b) => `<tr data-beat="${esc(b.code)}"${
        state.beatLocked[b.code] ? " class=\"locked-beat\"" : ""}><td><span class="swatch" style="background:${
        state.colors[b.code]}"></span>${esc(b.code)}</td>${cell(b.name, "name")}${
        cell(b.officer?.name || "", "officer")}${cell(b.grids.length, "num grids")}<td>${lock(b.code)}</td></tr>`).join("");
    } else {
      if (!state.weights) { state.weights = workload.weights; drawWeights(); }
      const parts = Object.keys(W.parts);
      const tolerance = state.tolerance * 100;
      thead.innerHTML = `<tr><th>${W.beat}</th><th>${W.name}</th><th>${W.officer}</th><th>${
        W.grids}</th>${parts.map((p) => `<th>${
        W.parts[p]}</th>`).join("")}<th>${W.index}</th><th>${W.deviation}</th><th>${
        W.contiguous}</th><th>${W.compactness}</th><th>${W.villages_split}</th><th>${
        W.locked}</th></tr>`;
      tbody.innerHTML = workload.beats.map((b) => {
        const over = Math.abs(b.deviation_pct) > tolerance;
        return `<tr data-beat="${esc(b.code)}"${state.beatLocked[b.code] ? " class=\"locked-beat\"" : ""}><td><span class="swatch" style="background:${
          state.colors[b.code]}"></span>${esc(b.code)}</td>${cell(b.name, "name")}${
          cell(b.officer?.name || "", "officer")}${cell(b.grids, "num grids")}${
          parts.map((p) => cell(Number(b.parts[p] ?? 0).toFixed(p === "incidents_weighted" ? 1 : p.endsWith("km") || p.endsWith("km2") ? 2 : 0))).join("")}${
          cell(Number(b.index).toFixed(1), "num index")}${
          cell(`${b.deviation_pct > 0 ? "+" : ""}${Number(b.deviation_pct).toFixed(1)} %`, `num deviation ${over ? "over" : "ok"}`)}${
          cell(b.contiguous ? W.yes : `${W.no} (${b.pieces})`, b.contiguous ? "contiguity ok" : "contiguity over")}${
          cell(Number(b.compactness).toFixed(3))}${cell(b.villages_split)}<td>${lock(b.code)}</td></tr>`;
      }).join("");
    }
    for (const box of tbody.querySelectorAll("input.beat-lock")) {
      box.addEventListener("change", () => setLocks({}, {[box.dataset.beat]: box.checked}));
    }
  }

  function drawWeights() {
    const box = $("weights");
    if (!state.weights) { box.hidden = true; return; }
    box.hidden = false;
    const label = {parts: W.weight_parts, categories: W.categories};
    const inputs = (group) => Object.entries(state.weights[group]).map(([k, v]) =>
      `<label>${esc(label[group][k] || k)} <input type="number" step="any" min="0" data-group="${
        group}" data-key="${esc(k)}" value="${esc(v)}"></label>`).join("");
    box.innerHTML = `<strong>${W.weights}</strong>${inputs("parts")}<strong>${
      W.weight_categories}</strong>${inputs("categories")}<button type="button" id="recompute" class="secondary">${W.recompute}</button>`;
    $("recompute").addEventListener("click", async () => {
      for (const input of box.querySelectorAll("input")) {
        state.weights[input.dataset.group][input.dataset.key] = Number(input.value);
      }
      await drawWorkload();
    });
  }

  // ----------------------------------------------------------------------------- rebalance
  function clearProposal() {
    state.proposal = null;
    proposalLayer.clearLayers();
    if ($("proposal")) $("proposal").hidden = true;
  }

  async function propose(event) {
    event.preventDefault();
    const tolerance = Number(new FormData(event.target).get("tolerance")) / 100;
    state.tolerance = tolerance;
    const body = {tolerance};
    if (state.weights) { body.weights = state.weights.parts; body.categories = state.weights.categories; }
    const reply = await call("POST", `${API}/balance`, body);
    if (!reply.ok) { say(`${W.refused} ${reply.data?.detail || reply.status}`, "error"); return; }
    const answer = reply.data;
    state.proposal = answer;
    proposalLayer.clearLayers();
    for (const move of answer.moves) {
      const layer = gridLayers[move.grid];
      if (!layer) continue;
      L.geoJSON(layer.toGeoJSON(), {
        interactive: false,
        style: {color: "#d00", weight: 3, dashArray: "6 4", fillColor: state.colors[move.to], fillOpacity: 0.9},
      }).addTo(proposalLayer);
    }
    $("proposal-summary").textContent = `${answer.met ? W.proposal_met : W.proposal_not_met} · ${
      W.moves} ${answer.moves.length} · ${Number(answer.max_deviation_pct_before).toFixed(1)} % → ${
      Number(answer.max_deviation_pct_after).toFixed(1)} %`;
    $("proposal-moves").innerHTML = answer.moves.map((m) => `<li data-grid="${esc(m.grid)}">${
      esc(m.grid)} ${esc(fmt(W.move_from_to, {from: m.from, to: m.to}))} · ${W.relieves} ${
      esc(m.relieves)} (${(m.from_deviation_pct || []).map((x) => Number(x).toFixed(1)).join(" → ")} %)</li>`).join("");
    $("proposal").hidden = false;
    await drawWorkload();
  }

  async function applyProposal() {
    if (!state.proposal) return;
    const moves = Object.fromEntries(state.proposal.moves.map((m) => [m.grid, m.to]));
    if (await applyMoves(moves, "do")) clearProposal();
  }

  // ---------------------------------------------------------------------------------- diff
  async function showDiff() {
    const reply = await call("GET", `/api/v1/plans/${encodeURIComponent(cfg.in_force)}/diff/${CODE}`);
    if (!reply.ok) { say(reply.data?.detail || String(reply.status), "error"); return; }
    const d = reply.data;
    diffLayer.clearLayers();
    for (const m of d.moved) {
      const layer = gridLayers[m.grid];
      if (layer) L.geoJSON(layer.toGeoJSON(), {interactive: false, style: {color: "#c00", weight: 3, fill: false}}).addTo(diffLayer);
    }
    const list = (title, items) => items.length ? `<h3>${title} (${items.length})</h3><ul>${items.join("")}</ul>` : "";
    $("diff").innerHTML = (d.moved.length || d.officers.length) ? [
      list(W.diff_moved, d.moved.map((m) => `<li class="moved" data-grid="${esc(m.grid)}">${esc(m.grid)} ${esc(fmt(W.move_from_to, {from: m.from || "—", to: m.to || "—"}))}</li>`)),
      list(W.diff_beats, d.beats_changed.map((b) => `<li>${esc(b.beat)} +${b.gained.length} −${b.lost.length}</li>`)),
      list(W.diff_officers, d.officers.map((o) => `<li>${esc(o.name)} (${esc(o.person)}) ${esc(fmt(W.move_from_to, {from: (o.from || []).join(","), to: (o.to || []).join(",")}))}</li>`)),
      list(W.diff_workers, d.grid_workers.map((w) => `<li>${esc(w.name)} (${esc(w.person)}) ${esc(w.grid)} ${esc(fmt(W.move_from_to, {from: w.from || "—", to: w.to || "—"}))}</li>`)),
      list(W.index, Object.entries(d.workload || {}).filter(([, v]) => v.a?.index !== v.b?.index).map(([beat, v]) =>
        `<li>${esc(beat)} ${v.a ? Number(v.a.index).toFixed(1) : "—"} → ${v.b ? Number(v.b.index).toFixed(1) : "—"}</li>`)),
    ].join("") : `<p>${W.diff_none}</p>`;
    $("hide-diff").hidden = false;
  }

  function hideDiff() {
    diffLayer.clearLayers();
    $("diff").innerHTML = "";
    $("hide-diff").hidden = true;
  }

  // ---------------------------------------------------------------------------- publishing
  async function publish(dryRun) {
    const input = document.querySelector("#publish-form input[name=effective_from]");
    if (!input.value) { input.reportValidity(); return; }
    const body = {effective_from: input.value, version: state.version, dry_run: dryRun};
    const reply = await call("POST", `${API}/publish`, body);
    const out = $("publish-result");
    const problems = reply.data?.problems || [];
    if (reply.ok && dryRun) {
      out.innerHTML = problems.length
        ? `<p class="error">${W.problems}</p><ul>${problems.map((p) => `<li class="problem">${esc(p.detail)}</li>`).join("")}</ul>`
        : `<p class="ok">${W.publishable}</p>`;
      return;
    }
    if (reply.ok) {
      out.innerHTML = `<p class="message">${esc(fmt(W.published_ok, {at: reply.data.effective_from}))}</p>`;
      setTimeout(() => window.location.reload(), 1500);
      return;
    }
    if (reply.status === 409 && reply.data?.refused === "stale") { await refused(reply); return; }
    out.innerHTML = `<p class="error">${W.problems}</p><ul>${(problems.length ? problems : [reply.data || {}]).map((p) =>
      `<li class="problem">${esc(p.detail || reply.status)}</li>`).join("")}</ul>`;
  }

  // -------------------------------------------------------------------------------- wiring
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => {
      state.mode = radio.value;
      if (state.mode === "brush") map.dragging.disable(); else map.dragging.enable();
    });
  }
  if ($("undo")) { $("undo").addEventListener("click", undo); $("redo").addEventListener("click", redo); }
  if ($("beat-tools")) {
    $("add-beat").addEventListener("submit", (e) => {
      e.preventDefault();
      const form = e.target.elements;
      changeBeats([{op: "add", beat: form.beat.value.trim(), name: form.name.value.trim()}]).then((ok) => {
        if (ok) e.target.reset();
      });
    });
    $("rename-beat").addEventListener("submit", (e) => {
      e.preventDefault();
      const name = e.target.elements.name.value.trim();
      const beat = state.beats.find((b) => b.code === state.selected);
      if (beat && name !== beat.name) changeBeats([{op: "rename", beat: beat.code, name}]);
    });
    $("officer-beat").addEventListener("submit", (e) => {
      e.preventDefault();
      const person = e.target.elements.person.value || null;
      const beat = state.beats.find((b) => b.code === state.selected);
      if (beat && person !== (beat.officer ? beat.officer.code : null)) {
        changeBeats([{op: "officer", beat: beat.code, person}]);
      }
    });
    $("remove-beat").addEventListener("click", () => {
      if (state.selected) changeBeats([{op: "remove", beat: state.selected}]);
    });
  }
  if ($("rebalance-form")) {
    $("rebalance-form").addEventListener("submit", propose);
    $("apply-proposal").addEventListener("click", applyProposal);
    $("discard-proposal").addEventListener("click", clearProposal);
  }
  if ($("show-diff")) { $("show-diff").addEventListener("click", showDiff); $("hide-diff").addEventListener("click", hideDiff); }
  if ($("publish-form")) {
    $("publish-form").addEventListener("submit", (e) => { e.preventDefault(); publish(false); });
    $("check-publish").addEventListener("click", () => publish(true));
  }

  (async () => {
    say(W.loading);
    await loadPlan();
    await loadOfficers();
    await loadGrids();
    await drawOutlines();
    await drawWorkload();
    say("");
    document.body.dataset.ready = "yes";
  })();
})();
