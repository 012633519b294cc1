// What the phone pages (/me, /department) share: building elements, an outbox in IndexedDB
// and what it says of a refused write, and answers kept in the Cache API so that the pages open
// again with no network (served back by /sw.js, which empties the kept answers at sign-out).
"use strict";
window.Kept = (function () {
  const DATA_CACHE = "me-data";

  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
    return node;
  };

  // The outbox of the IndexedDB database ``name``: outbox(mode, fn) runs fn on its store in
  // one transaction and answers the request's result.
  function outbox(name) {
    function openDb() {
      return new Promise((resolve, reject) => {
        const req = indexedDB.open(name, 1);
        req.onupgradeneeded = () => req.result.createObjectStore("outbox", { keyPath: "id" });
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }
    return async function (mode, fn) {
      const db = await openDb();
      return new Promise((resolve, reject) => {
        const tx = db.transaction("outbox", mode);
        const result = fn(tx.objectStore("outbox"));
        tx.oncomplete = () => { db.close(); resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = () => { db.close(); reject(tx.error); };
      });
    };
  }

  // An answer of the API, fresh and kept, or what was kept (with since when) when there is no
  // network; a signed-out user goes to sign in.
  async function fetchKept(address) {
    const cache = await caches.open(DATA_CACHE);
    try {
      if (!navigator.onLine) throw new Error("offline");
      const response = await fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok && response.headers.get("X-Kept")) {
        return { body: await response.json(), fresh: false, kept: response.headers.get("date") };
      }
      if (response.ok) {
        await cache.put(address, response.clone());
        return { body: await response.json(), fresh: true };
      }
      if (response.status === 401) { location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`; }
    } catch (e) { /* no network: what was kept */ }
    const kept = await cache.match(address);
    return kept ? { body: await kept.json(), fresh: false, kept: kept.headers.get("date") } : null;
  }

  // The page itself, for opening again with no network (the service worker answers it).
  async function keepPage() {
    if (!navigator.onLine) return;
    try {
      const cache = await caches.open(DATA_CACHE);
      const page = location.pathname + location.search;
      const response = await fetch(page, { credentials: "same-origin" });
      if (response.ok && !response.redirected) await cache.put(page, response);
    } catch (e) { /* offline: the kept one stays */ }
  }

  // What the outbox says of a write the service refused, in the page's language: the page's own
  // sentence for the status (W.refused: 403, 404, 409, 413, 422, else "other"), then the
  // server's detail (which may be English) after it. An entry of an older page kept only its
  // detail (entry.error).
  function refusal(W, entry) {
    if (!entry.status) return entry.error || "";
    const said = W.refused[String(entry.status)] || `${W.refused.other} (${entry.status})`;
    return entry.detail ? `${said}: ${entry.detail}` : said;
  }

  // The failed entry of a refused answer: its status and the server's detail (problem+json).
  async function refused(entry, response) {
    let detail = null;
    try { detail = (await response.json()).detail || null; } catch (e) { /* not JSON */ }
    return { ...entry, failed: true, status: response.status, detail };
  }

  // A client-made id (a random UUID) for a write: crypto.randomUUID where the page is a secure
  // context, else the same from crypto.getRandomValues (a plain-http intranet address).
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // the RFC 4122 variant
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  return { el, outbox, fetchKept, keepPage, refusal, refused, uuid };
})();
