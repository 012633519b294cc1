// The phone page "my area" (/me): draws /api/v1/me and /api/v1/me/map, keeps them for use with
// no network (the Cache API, served back by /sw.js), and records inspections, dusk check-ins and
// reports into an outbox in IndexedDB, each with a client-made id, sent when the network returns
// (the server stores each id once, so sending again after a lost answer is harmless). The map
// draws the waters patrolled this evening and those marked for patrol not yet walked, and a
// report's place may be picked on it instead of the phone's position. `?at=` in the page's
// address shows the answers as of that moment, like the API's.
"use strict";
(function () {
  const W = JSON.parse(document.getElementById("me-words").textContent);
  const CONFIG = JSON.parse(document.getElementById("me-config").textContent);
  const AT = new URLSearchParams(location.search).get("at");
  const AT_QUERY = AT ? `?at=${encodeURIComponent(AT)}` : "";
  const API = `/api/v1/me${AT_QUERY}`;
  const MAP_API = `/api/v1/me/map${AT_QUERY}`;
  const SEND = { inspection: "/api/v1/inspections", report: "/api/v1/reports" };
  const PART = { inspection: "inspection", report: "report" };
  const MAX_PHOTOS = 3;
  const $ = (id) => document.getElementById(id);
  const el = Kept.el;
  const day = (iso) => (iso ? new Date(iso).toLocaleDateString(CONFIG.lang === "zh" ? "zh-CN" : "en-GB") : "");
  const when = (iso) => (iso ? new Date(iso).toLocaleString(CONFIG.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "");
  let data = null; // the last /api/v1/me answer
  let mapData = null; // the last /api/v1/me/map answer
  let map = null;
  let itemLayer = null;
  let pickLayer = null; // the place picked on the map for a report

  // ------------------------------------------------------------------ the outbox (IndexedDB)
  const outbox = Kept.outbox("geo-me");
  const queued = () => outbox("readonly", (s) => s.getAll());
  const enqueue = (entry) => outbox("readwrite", (s) => s.put(entry));
  const dequeue = (id) => outbox("readwrite", (s) => s.delete(id));

  let flushing = false;
  async function flush() {
    if (flushing || !navigator.onLine) return; // known to be offline: wait for "online"
    flushing = true;
    let sent = 0;
    try {
      for (const entry of await queued()) {
        if (entry.failed) continue;
        const form = new FormData();
        form.append(PART[entry.type], JSON.stringify(entry.body));
        (entry.photos || []).forEach((p, i) => form.append("photos", p.blob, p.name || `photo${i + 1}.jpg`));
        let response;
        try {
          response = await fetch(SEND[entry.type], { method: "POST", body: form, credentials: "same-origin" });
        } catch (e) {
          break; // no network: try again when it returns
        }
        if (response.ok) {
          await dequeue(entry.id);
          sent += 1;
        } else if (response.status === 401 || response.status === 408 || response.status === 429 || response.status >= 500) {
          break; // signed out or the service busy: keep it, try again later
        } else {
          await enqueue(await Kept.refused(entry, response));
        }
      }
    } finally {
      flushing = false;
      await showOutbox();
    }
    if (sent) {
      await load();
      // say that the records left the phone (the lists above now count them)
      $("updated").textContent = `${W.sent} ${sent} · ${$("updated").textContent}`;
      $("updated").dataset.sent = String(sent);
    }
  }

  // What the outbox says of a refused record (Kept.refusal), but a report refused for its place
  // (403) names the user's areas as the page lists them, all in the page's language.
  function refusal(entry) {
    if (entry.type === "report" && entry.status === 403) {
      const areas = ((data && data.areas) || []).map((a) => `${W[a.kind] || a.kind} ${a.name}`).join("、");
      return `${W.refused_outside}${areas}`;
    }
    return Kept.refusal(W, entry);
  }

  async function showOutbox() {
    const entries = await queued();
    const box = $("outbox");
    const failed = entries.filter((e) => e.failed);
    box.hidden = entries.length === 0;
    box.className = "outbox" + (failed.length ? " failed" : "");
    box.textContent = `${W.outbox} ${entries.length}` + (failed.length ? ` · ${W.outbox_failed} ${failed.length}: ${refusal(failed[0])}` : "");
    box.dataset.count = String(entries.length);
  }

  function showNet() {
    const net = $("net");
    net.textContent = navigator.onLine ? W.online : W.offline;
    net.className = "net" + (navigator.onLine ? "" : " offline");
  }

  // ------------------------------------------------------------------ the data, kept offline
  const fetchKept = Kept.fetchKept;

  const keepPage = Kept.keepPage;

  async function load() {
    const [me, geo] = await Promise.all([fetchKept(API), fetchKept(MAP_API)]);
    if (!me) {
      $("list-blocks").replaceChildren(el("p", { class: "error" }, W.no_data));
      return;
    }
    data = me.body;
    $("updated").textContent = `${W.updated} ${when(me.fresh ? new Date().toISOString() : me.kept)}`;
    delete $("updated").dataset.sent;
    render(data);
    if (geo) { mapData = geo.body; drawMap(geo.body); }
    document.body.dataset.loaded = me.fresh ? "fresh" : "kept";
  }

  // ------------------------------------------------------------------ drawing
  function render(d) {
    $("area-list").replaceChildren(
      ...d.areas.map((a) => el("li", {}, `${W[a.kind]} ${a.name}`, a.beat ? ` · ${W.beat} ${a.beat}` : "")),
    );
    const blocks = Object.entries(d.lists).map(([name, list], i) => listBlock(name, list, i === 0));
    $("list-blocks").replaceChildren(...blocks);
    $("people-list").replaceChildren(
      ...(d.people.length
        ? d.people.map((p) =>
            el("li", {},
              el("span", {}, `${W.roles[p.role] || p.role} ${p.name}`),
              p.phone ? el("a", { href: p.phone.includes("*") ? null : `tel:${p.phone}` }, p.phone) : ""))
        : [el("li", { class: "none" }, W.no_people)]),
    );
  }

  function listBlock(name, list, open) {
    const urgentWord = W[`urgent_${name}`];
    const summary = el("summary", {},
      el("span", {}, W[name]),
      el("span", { class: "counts" },
        el("span", { class: "badge", "data-count": list.count }, String(list.count)),
        list.urgent && urgentWord ? [" ", el("span", { class: "badge urgent" }, `${urgentWord} ${list.urgent}`)] : []));
    const items = list.items.map((item) => itemRow(name, item));
    const more = list.count > list.items.length ? el("p", { class: "none" }, `${W.more} ${list.items.length} / ${list.count}`) : null;
    return el("details", { class: "list", id: `list-${name}`, open: open && list.count > 0 },
      summary, list.count ? el("ul", { class: "items" }, items) : el("p", { class: "none" }, W.none), more);
  }

  function describe(name, item) {
    if (name === "sweep_targets_open") { // a sweep's target: the thing, the sweep and its end
      const what = `${W.thing_kinds[item.kind] || item.kind} ${item.code}`;
      const place = item.address || item.name || item.water_body_name || "";
      return [place ? `${what} · ${place}` : what, `${item.sweep_name} · ${W.sweep_ends} ${when(item.sweep_ends_at)}`];
    }
    if (item.kind === "report") { // the user's own report: status, department, last step
      const department = CONFIG.lang === "zh" ? item.department_name : item.department_name_en;
      const step = item.last_step
        ? ` · ${W.last_step}: ${W.steps[item.last_step.kind] || item.last_step.kind} ${when(item.last_step.at)}` : "";
      return [`${W.report_categories[item.category] || item.category} · ${W.statuses[item.status] || item.status}`,
        `${department} · ${when(item.reported_at)}${step}`];
    }
    if (item.kind === "rental_house") {
      return [item.address, `${item.landlord || ""} ${item.phone || ""} · ${item.due_at ? `${W.due} ${day(item.due_at)}` : W.never}`];
    }
    if (item.kind === "water_marker") {
      const last = item.last_inspected_at ? `${W.last} ${day(item.last_inspected_at)}` : W.never;
      return [`${W.marker_kinds[item.marker_kind] || item.marker_kind} ${item.code} · ${W.statuses[item.status] || item.status}`,
        `${item.water_body_name || ""} · ${last}`];
    }
    if (item.kind === "camera") return [`${item.name}`, `${item.code} · ${W.statuses[item.status] || item.status}`];
    return [`${W.categories[item.category] || item.category} · ${W.statuses[item.status] || item.status}`, when(item.received_at)];
  }

  function itemRow(name, item) {
    const [title, detail] = describe(name, item);
    const urgent = name === "sweep_targets_open" ? item.ends_soon
      : name === "reports_mine" ? item.status === "open"
        : item.overdue || item.status === "missing" || item.status === "offline";
    const button = item.kind === "incident" || item.kind === "report" ? null
      : el("button", { type: "button", class: "secondary", "data-code": item.code, onclick: () => openForm(item.kind, item) }, W.record);
    return el("li", { class: urgent ? "urgent" : "", "data-code": item.code },
      el("span", { class: "what" }, el("strong", {}, title), el("small", {}, detail)), button);
  }

  const LIST_COLOUR = {
    rentals_due: "#d9480f", markers_due: "#1971c2", markers_broken: "#a40000", cameras_out: "#7048e8", incidents_recent: "#495057",
    sweep_targets_open: "#e67700", reports_mine: "#0b7285",
  };
  // the waters' dusk patrols, in the water map's colours (geo_service/maps/water.py)
  const PATROL_STYLE = {
    walked: { color: "#1565c0", weight: 3, fillColor: "#b8d8f0", fillOpacity: 1 },
    not_yet: { color: "#ef6c00", weight: 3, dashArray: "6 4", fillColor: "#b8d8f0", fillOpacity: 1 },
  };
  const patrolOf = (p) => (p.layer !== "basemap_water" ? null : p.patrolled ? "walked" : p.marked ? "not_yet" : null);
  const BASE_STYLE = {
    basemap_village: { color: "#9a9a9a", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 },
    basemap_water: { color: "#7fb0d9", weight: 1, fillColor: "#b8d8f0", fillOpacity: 1 },
    basemap_road: { color: "#d9a066", weight: 2, opacity: 0.9 },
    area: { color: "#12355b", weight: 3, fill: true, fillOpacity: 0.05 },
  };

  function drawMap(geo) {
    if (!window.L) return;
    if (!map) {
      map = L.map("me-map", { zoomSnap: 0.25, attributionControl: false });
      map.on("click", (e) => { if (picking) pickAt(e.latlng); });
      window.meMap = map; // for the page's tests and for debugging in the browser
    }
    if (itemLayer) itemLayer.remove();
    itemLayer = L.geoJSON(geo, {
      style: (f) => PATROL_STYLE[patrolOf(f.properties)] || BASE_STYLE[f.properties.layer] || {},
      filter: (f) => f.properties.layer !== "water_marker" || !geo.features.some((g) => ["markers_due", "markers_broken", "sweep_targets_open"].some((l) => g.id === `${l}:${f.properties.code}`)),
      pointToLayer: (f, latlng) => f.properties.layer === "water_marker"
        ? L.circleMarker(latlng, { radius: 3, weight: 1, color: "#1971c2", fillColor: "#fff", fillOpacity: 1 })
        : L.circleMarker(latlng, {
        radius: f.properties.urgent ? 7 : 5, weight: 1, color: "#fff", fillOpacity: 0.9,
        fillColor: LIST_COLOUR[f.properties.layer] || "#333",
      }),
      onEachFeature: (f, layer) => {
        const p = f.properties;
        if (p.layer === "area" || p.layer === "water_marker" || p.layer.startsWith("basemap_")) {
          const patrol = patrolOf(p);
          const said = patrol ? ` · ${W[`patrol_${patrol}`]}${p.check_ins ? ` (${W.check_ins} ${p.check_ins})` : ""}` : "";
          if (p.name) layer.bindTooltip(p.name + said);
          return;
        }
        const [title, detail] = describe(p.layer, p);
        const body = el("div", {}, el("strong", {}, title), el("br"), detail || "");
        if (p.kind !== "incident" && p.kind !== "report") {
          body.append(el("br"), el("button", { type: "button", class: "secondary", onclick: () => openForm(p.kind, p) }, W.record));
        }
        layer.bindPopup(body);
        // while a place is picked, a tap on a listed thing picks its place (its popup, which
        // stops the tap from reaching the map, is closed again)
        layer.on("click", (e) => { if (picking) pickAt(e.latlng); });
      },
    }).addTo(map);
    const b = geo.bbox;
    if (b) map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [8, 8] });
    else map.setView([29.84, 120.35], 12);
    drawLegend(geo);
  }

  // Under the map: the waters patrolled this evening and those marked not yet walked, by name.
  function drawLegend(geo) {
    const waters = geo.features.map((f) => f.properties).filter((p) => patrolOf(p));
    $("map-legend").replaceChildren(...["walked", "not_yet"].map((patrol) => {
      const these = waters.filter((p) => patrolOf(p) === patrol);
      const style = PATROL_STYLE[patrol];
      return el("li", { "data-patrol": patrol, "data-waters": these.map((p) => p.code).join(" ") },
        el("span", { class: `swatch ${patrol}`, style: `border-color:${style.color}` }),
        el("span", {}, `${W[`patrol_${patrol}`]} `, el("span", { class: "badge", "data-count": these.length }, String(these.length))),
        these.length ? el("small", {}, these.map((p) => p.name).join("、")) : null);
    }));
  }

  // ------------------------------------------------------------------ a place picked on the map
  let picking = false;
  let picked = null; // {lon, lat} picked for the open report, or null: the phone's position
  let candidate = null; // tapped while picking, inside the areas

  // Whether a point lies in a ring / polygon / one of the areas (ray casting on lon, lat).
  function inRing(x, y, ring) {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }
  const inPolygon = (x, y, rings) => inRing(x, y, rings[0]) && !rings.slice(1).some((r) => inRing(x, y, r));
  function inMyAreas(lon, lat) {
    const areas = ((mapData && mapData.features) || []).filter((f) => f.properties.layer === "area");
    return areas.some((f) => {
      const g = f.geometry;
      const polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      return polygons.some((rings) => inPolygon(lon, lat, rings));
    });
  }

  function startPicking() {
    if (!map) return;
    picking = true;
    candidate = null;
    $("form-dialog").close(); // the form keeps what was filled in; it opens again after
    $("pick-bar").hidden = false;
    $("pick-text").textContent = W.pick_hint;
    $("pick-use").disabled = true;
    $("me-map").classList.add("picking");
    $("map-section").scrollIntoView({ block: "start" });
    map.invalidateSize();
  }

  function stopPicking(use) {
    picking = false;
    $("pick-bar").hidden = true;
    $("me-map").classList.remove("picking");
    if (use && candidate) picked = candidate;
    markPlace(picked, true); // back without using it: the place picked before, if any
    showPlace();
    $("form-dialog").showModal();
  }

  function pickAt(latlng) {
    map.closePopup(); // a tap on a listed thing picks its place, it does not open it
    const lon = Number(latlng.lng.toFixed(6));
    const lat = Number(latlng.lat.toFixed(6));
    const inside = inMyAreas(lon, lat);
    markPlace({ lon, lat }, inside);
    candidate = inside ? { lon, lat } : null;
    $("pick-use").disabled = !inside;
    $("pick-text").textContent = inside ? `${W.pick_at} ${lon.toFixed(5)}, ${lat.toFixed(5)}` : W.pick_outside;
    $("pick-text").dataset.inside = String(inside);
  }

  // The marker of a place on the map (red inside the areas, grey outside), or none.
  function markPlace(place, inside) {
    if (pickLayer) { pickLayer.remove(); pickLayer = null; }
    if (!place || !map) return;
    pickLayer = L.circleMarker([place.lat, place.lon], {
      radius: 9, weight: 3, color: inside ? "#a40000" : "#868e96", fillColor: "#fff", fillOpacity: 0.6,
      interactive: false,
    }).addTo(map);
  }

  // The open form's place: the one picked on the map, else the phone's position.
  function showPlace() {
    const report = current && current.type === "report";
    $("form-phone-place").hidden = !(report && picked);
    if (report && picked) {
      $("form-position").textContent = `${W.place}: ${W.place_picked} ${picked.lon.toFixed(5)}, ${picked.lat.toFixed(5)}`;
    } else if (position) {
      $("form-position").textContent = `${W.position}: ${W.position_got} ${position.lon.toFixed(5)}, ${position.lat.toFixed(5)}`;
    } else {
      $("form-position").textContent = `${W.position}: ${W.position_none}`;
    }
  }

  // ------------------------------------------------------------------ forms
  let current = null; // what the open form records: {type, kind, code, lon, lat}
  let position = null;

  function radios(name, values, checked, labels) {
    return el("fieldset", {}, el("legend", {}, W[name] || name),
      values.map((v) => el("label", {}, el("input", { type: "radio", name, value: v, checked: v === checked, required: true }), labels[v] || W[v] || v)));
  }

  function fieldsFor(kind, item) {
    if (kind === "water_marker") return [radios("result", ["ok", "damaged", "missing", "replaced"], item.status === "ok" ? "ok" : null, {})];
    if (kind === "camera") return [radios("result", ["working", "faulty", "offline"], null, { offline: W.offline_cam })];
    if (kind === "rental_house") {
      const items = ["extinguisher", "escape_route", "wiring", "ebike_indoor_charging"].map((k) =>
        el("fieldset", { class: "fire-item" }, el("legend", {}, W[k]),
          ["ok", "problem"].map((v) => el("label", {}, el("input", { type: "radio", name: `item_${k}`, value: v, checked: v === "ok" }), W[`item_${v}`]))));
      return [el("p", { class: "subject" }, W.items), ...items, radios("result", ["pass", "fail"], "pass", {}),
        el("label", {}, W.fix_what, el("input", { type: "text", name: "fix_what", maxlength: 2000 })),
        el("label", {}, W.fix_by, el("input", { type: "date", name: "fix_by" }))];
    }
    if (kind === "checkin") {
      // the water bodies around the areas and the markers in them, from the map's answer
      const features = (mapData && mapData.features) || [];
      const markersOf = {};
      for (const f of features.filter((x) => x.properties.layer === "water_marker")) {
        (markersOf[f.properties.water_body] = markersOf[f.properties.water_body] || []).push(f.properties);
      }
      const waters = features.filter((x) => x.properties.layer === "basemap_water")
        .map((x) => ({ code: x.properties.code, name: x.properties.name, markers: (markersOf[x.properties.code] || [])
          .map((m) => ({ code: m.code, kind: m.marker_kind, status: m.status })) }))
        .sort((a, b) => (b.markers.length > 0) - (a.markers.length > 0) || a.code.localeCompare(b.code));
      const select = el("select", { name: "water_body", required: true },
        waters.map((w) => el("option", { value: w.code }, `${w.name} (${w.code})`)));
      const poles = el("div", { id: "poles" });
      const showPoles = () => {
        const w = waters.find((x) => x.code === select.value);
        poles.replaceChildren(el("p", { class: "subject" }, W.poles_seen),
          ...((w && w.markers) || []).map((m) => el("label", {},
            `${W.marker_kinds[m.kind] || m.kind} ${m.code}`,
            el("select", { name: `pole_${m.code}` }, el("option", { value: "" }, "—"),
              ["ok", "damaged", "missing"].map((v) => el("option", { value: v }, W[v]))))));
      };
      select.addEventListener("change", showPoles);
      setTimeout(showPoles);
      return [el("label", {}, W.water_body, select), radios("result", ["patrolled", "hazard"], "patrolled", {}), poles];
    }
    // report
    const cats = W.report_categories;
    return [el("label", {}, W.category, el("select", { name: "category", required: true },
      Object.keys(cats).map((c) => el("option", { value: c }, cats[c]))))];
  }

  function locate() {
    // the phone's position for the open form (asked again when a report is saved without one)
    if (!navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition((p) => {
      position = { lon: p.coords.longitude, lat: p.coords.latitude, accuracy_m: p.coords.accuracy };
      showPlace();
    }, () => {}, { enableHighAccuracy: true, timeout: 8000, maximumAge: 60000 });
  }

  function openForm(kind, item) {
    item = item || {};
    const type = kind === "report" ? "report" : "inspection";
    current = { type, kind: kind === "checkin" ? "water_body" : kind, code: item.code, lon: item.lon, lat: item.lat };
    $("form-title").textContent = kind === "report" ? W.form_report : kind === "checkin" ? W.form_checkin : W.form_inspection;
    $("form-subject").textContent = item.code ? describe(item.sweep ? "sweep_targets_open" : kind, item)[0] : "";
    $("form-fields").replaceChildren(...fieldsFor(kind, item));
    $("record-form").reset();
    $("form-error").textContent = "";
    position = null;
    picked = null;
    markPlace(null);
    $("form-place").hidden = type !== "report" || !map; // a report's place may be picked on the map
    showPlace();
    locate();
    $("record-form").elements.namedItem("note").required = kind === "report"; // a report says what
    $("form-dialog").showModal();
  }

  function formBody(form) {
    const v = (name) => { const f = form.elements.namedItem(name); return f ? f.value : ""; };
    const checked = (name) => { const f = form.querySelector(`input[name="${name}"]:checked`); return f ? f.value : null; };
    const note = v("note").trim() || null;
    const now = new Date().toISOString();
    const where = position || {};
    if (current.type === "report") {
      const at = picked || position || (current.lon !== undefined ? { lon: current.lon, lat: current.lat } : {});
      return { client_id: Kept.uuid(), category: v("category"), note, reported_at: now,
        lon: at.lon ?? null, lat: at.lat ?? null };
    }
    const body = { client_id: Kept.uuid(), kind: current.kind, code: current.code, inspected_at: now,
      result: checked("result"), note, lon: where.lon ?? null, lat: where.lat ?? null, accuracy_m: where.accuracy_m ?? null };
    if (current.kind === "rental_house") {
      body.items = {};
      for (const k of ["extinguisher", "escape_route", "wiring", "ebike_indoor_charging"]) body.items[k] = checked(`item_${k}`);
      body.fix_what = v("fix_what").trim() || null;
      body.fix_by = v("fix_by") || null;
    }
    if (current.kind === "water_body") {
      body.code = v("water_body");
      body.poles = [...form.querySelectorAll("select[name^=pole_]")].filter((s) => s.value)
        .map((s) => ({ code: s.name.slice(5), result: s.value }));
    }
    return body;
  }

  async function save(event) {
    event.preventDefault();
    const form = $("record-form");
    const files = [...form.elements.namedItem("photos").files];
    if (files.length > MAX_PHOTOS) { $("form-error").textContent = W.too_many_photos; return; }
    const body = formBody(form);
    if (current.type === "report" && (body.lon === null || body.lat === null)) {
      $("form-error").textContent = W.position_needed; // a report is about a place: the phone's or one picked
      locate();
      return;
    }
    if (current.type === "inspection" && current.kind === "rental_house" && body.result === "fail" && (!body.fix_what || !body.fix_by)) {
      $("form-error").textContent = `${W.fix_what} / ${W.fix_by}`;
      return;
    }
    // the photos' bytes go into IndexedDB with the record: they survive a reload with no network
    const photos = await Promise.all(files.map(async (f) => ({ name: f.name, blob: new Blob([await f.arrayBuffer()], { type: f.type }) })));
    await enqueue({ id: body.client_id, type: current.type, body, photos, created: new Date().toISOString() });
    $("form-dialog").close();
    markPlace(null);
    await showOutbox();
    $("updated").textContent = W.queued;
    flush();
  }

  // ------------------------------------------------------------------ start
  $("record-form").addEventListener("submit", save);
  $("form-cancel").addEventListener("click", () => $("form-dialog").close());
  $("open-checkin").addEventListener("click", () => openForm("checkin"));
  $("open-report").addEventListener("click", () => openForm("report"));
  $("form-pick").addEventListener("click", startPicking);
  $("form-phone-place").addEventListener("click", () => {
    picked = null;
    markPlace(null);
    showPlace();
  });
  $("pick-use").addEventListener("click", () => stopPicking(true));
  $("pick-back").addEventListener("click", () => stopPicking(false));
  window.addEventListener("online", () => { showNet(); flush(); });
  window.addEventListener("offline", showNet);
  showNet();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  }
  (async () => {
    await load();
    await showOutbox();
    await keepPage();
    document.body.dataset.kept = "1";
    flush();
    setInterval(() => { if (navigator.onLine) flush(); }, 30000);
  })();
})();
