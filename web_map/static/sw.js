// The service worker of the phone pages /me and /department (served by the app at /sw.js, scope /). It keeps the page's
// own files (cache first) and answers the page and the user's last /api/v1/me answers from what
// was kept when there is no network (network first). The page itself writes its answers into the
// same cache (me.js), so that they are kept even before this worker controls the page. Signing
// out empties the kept answers. Nothing else of the app goes through it.
"use strict";
const SHELL_CACHE = "me-shell-v5";
const DATA_CACHE = "me-data";
const PAGE_ASSETS = /*PAGE_ASSETS*/[];
const PAGES = ["/me", "/department"];
const KEPT = ["/api/v1/me", "/api/v1/me/map", "/api/v1/reports"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(PAGE_ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("me-shell-") && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function cacheFirst(request) {
  const kept = await caches.match(request, { ignoreSearch: true });
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) (await caches.open(SHELL_CACHE)).put(request, response.clone());
  return response;
}

async function networkFirst(request, key) {
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic" && !response.redirected) {
      (await caches.open(DATA_CACHE)).put(key, response.clone());
    }
    return response;
  } catch (error) {
    const kept = await (await caches.open(DATA_CACHE)).match(key);
    if (!kept) throw error;
    const headers = new Headers(kept.headers);
    headers.set("X-Kept", "1"); // the page says it shows what was kept, and since when
    return new Response(kept.body, { status: kept.status, statusText: kept.statusText, headers });
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === "/logout") {
    event.waitUntil(caches.delete(DATA_CACHE)); // the user's answers leave with the user
    return;
  }
  if (request.method !== "GET") return;
  if (PAGE_ASSETS.includes(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (PAGES.includes(url.pathname) || KEPT.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname + url.search));
  }
});
