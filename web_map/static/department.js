// The department's page (/department, 部门报到): the reports routed to the signed-in department
// user's department, open and accepted, with buttons to accept and close them. What it last
// read is kept (the Cache API, served back by /sw.js), so that it opens again with no network;
// an answer given offline waits in an outbox in IndexedDB with the time it was given and a
// client-made id, and is sent when the network returns (sent again after a lost answer, the
// same id is stored once and answers the report as it is; a refusal is shown in the page's
// words).
"use strict";
(function () {
  const W = JSON.parse(document.getElementById("department-words").textContent);
  const CONFIG = JSON.parse(document.getElementById("department-config").textContent);
  const LISTS = ["open", "accepted"];
  const url = (status) => `/api/v1/reports?status=${status}&limit=500`;
  const $ = (id) => document.getElementById(id);
  const el = Kept.el;
  const when = (iso) => (iso ? new Date(iso).toLocaleString(CONFIG.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "");
  let reports = []; // the open and accepted reports last read
  let closing = null; // the report the close dialog is for

  // ------------------------------------------------------------------ the outbox (IndexedDB)
  const outbox = Kept.outbox("geo-department");
  const queued = async () => ((await outbox("readonly", (s) => s.getAll())) || []).sort((a, b) => a.seq - b.seq);
  const enqueue = (entry) => outbox("readwrite", (s) => s.put(entry));
  const dequeue = (id) => outbox("readwrite", (s) => s.delete(id));

  let flushing = false;
  async function flush() {
    if (flushing || !navigator.onLine) return;
    flushing = true;
    let sent = 0;
    try {
      for (const entry of await queued()) {
        if (entry.failed) continue;
        let response;
        try {
          response = await fetch(`/api/v1/reports/${entry.report_id}/steps`, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", Accept: "application/json" },
            body: JSON.stringify({ kind: entry.kind, note: entry.note || null, at: entry.at, client_id: entry.client_id }),
          });
        } catch (e) {
          break; // no network: again when it returns
        }
        if (response.ok || (response.status === 409 && !entry.client_id)) {
          await dequeue(entry.id); // an older page's entry had no id: its 409 meant done
          sent += 1;
        } else if (response.status === 401 || response.status === 408 || response.status === 429 || response.status >= 500) {
          break;
        } else {
          await enqueue(await Kept.refused(entry, response));
        }
      }
    } finally {
      flushing = false;
    }
    if (sent) await load();
    else await draw();
  }

  // ------------------------------------------------------------------ the reports, kept offline
  const fetchKept = Kept.fetchKept;

  const keepPage = Kept.keepPage;

  async function load() {
    const answers = await Promise.all(LISTS.map((s) => fetchKept(url(s))));
    if (answers.some((a) => !a)) {
      $("open-list").replaceChildren(el("li", { class: "error" }, W.no_data));
      document.body.dataset.loaded = "none";
      return;
    }
    reports = answers.flatMap((a) => a.body);
    const fresh = answers.every((a) => a.fresh);
    document.body.dataset.loaded = fresh ? "fresh" : "kept";
    const kept = answers.find((a) => !a.fresh);
    $("updated").textContent = fresh ? `${W.updated} ${when(new Date().toISOString())}` : `${W.kept} ${when(kept && kept.kept ? new Date(kept.kept).toISOString() : "")}`;
    await draw();
  }

  // ------------------------------------------------------------------ drawing
  async function draw() {
    const entries = await queued();
    const status = new Map(reports.map((r) => [r.id, r.status]));
    const pending = new Map();
    for (const e of entries) {
      if (e.failed) continue;
      if (e.kind === "accept" && status.get(e.report_id) === "open") status.set(e.report_id, "accepted");
      if (e.kind === "close") status.set(e.report_id, "closed");
      pending.set(e.report_id, true);
    }
    for (const list of LISTS) {
      const mine = reports.filter((r) => status.get(r.id) === list);
      const badge = $(`${list}-count`);
      badge.textContent = String(mine.length);
      badge.dataset.count = String(mine.length);
      badge.className = "badge" + (list === "open" && mine.length ? " urgent" : "");
      $(`${list}-list`).replaceChildren(...(mine.length ? mine.map((r) => item(r, list, pending.has(r.id))) : [el("li", { class: "none" }, W.none)]));
    }
    const failed = entries.filter((e) => e.failed);
    const box = $("outbox");
    box.hidden = entries.length === 0;
    box.className = "outbox" + (failed.length ? " failed" : "");
    box.textContent = `${W.outbox} ${entries.length}` + (failed.length ? ` · ${W.outbox_failed} ${failed.length}: ${Kept.refusal(W, failed[0])}` : "");
    box.dataset.count = String(entries.length);
  }

  function item(r, list, pending) {
    const category = CONFIG.lang === "zh" ? r.category_name : r.category_name_en;
    const photos = (r.photos || []).map((p) => el("a", { href: p.url, target: "_blank", rel: "noopener" }, `${W.photo} ${p.n}`));
    const buttons = pending ? null : el(
      "div",
      { class: "buttons" },
      list === "open" ? el("button", { type: "button", class: "accept", "data-id": r.id, onclick: () => answer(r, "accept", null) }, W.accept) : null,
      el("button", { type: "button", class: list === "open" ? "close secondary" : "close", "data-id": r.id, onclick: () => openClose(r) }, W.close),
    );
    return el(
      "li",
      { "data-id": r.id, class: pending ? "pending" : null, "data-pending": pending ? W.queued : null },
      el("div", { class: "what" }, el("strong", {}, `${category} · #${r.id}`), el("small", {}, [`${W.reported_at} ${when(r.reported_at)}`, r.grid ? `${W.grid} ${r.grid}` : null, `${W.reported_by} ${r.reporter}`].filter(Boolean).join(" · "))),
      el("p", { class: "note" }, r.note),
      photos.length ? el("div", { class: "photos" }, photos) : null,
      buttons,
    );
  }

  function openClose(r) {
    closing = r;
    $("close-title").textContent = `${W.close} #${r.id}`;
    $("close-form").reset();
    $("close-dialog").showModal();
  }

  async function answer(r, kind, note) {
    // the id goes with the step each time it is sent: the service stores it once
    const id = Kept.uuid();
    await enqueue({ id, client_id: id, seq: Date.now() + Math.random(), report_id: r.id, kind, note, at: new Date().toISOString() });
    await draw();
    flush();
  }

  // ------------------------------------------------------------------ start
  $("close-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const note = new FormData($("close-form")).get("note");
    $("close-dialog").close();
    if (closing) answer(closing, "close", String(note || "").trim() || null);
    closing = null;
  });
  $("close-cancel").addEventListener("click", () => $("close-dialog").close());
  function showNet() {
    const net = $("net");
    net.textContent = navigator.onLine ? W.online : W.offline;
    net.className = "net" + (navigator.onLine ? "" : " offline");
  }
  window.addEventListener("online", () => { showNet(); flush(); });
  window.addEventListener("offline", showNet);
  showNet();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  }
  (async () => {
    await load();
    await keepPage();
    document.body.dataset.kept = "1";
    flush();
    setInterval(() => { if (navigator.onLine) flush(); }, 30000);
  })();
})();
