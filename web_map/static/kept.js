// What the phone pages (/me, /department) share: building elements, an outbox in IndexedDB,
// and answers kept in the Cache API so that the pages open again with no network (served back
// by /sw.js, which empties the kept answers at sign-out).
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

  return { el, outbox, fetchKept, keepPage };
})();
