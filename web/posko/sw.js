// The officers' page opens without a connection: its files are kept in a cache and served from
// it only when the network cannot answer (network first, so a fix reaches the posko on its
// next load, as everywhere else on the site). The API is never touched here: entries wait in
// IndexedDB and the page's own queue sends them; nothing personal is ever in this cache.
const CACHE = "gelombang-posko-shell-v1";
const SHELL = [
  "/posko/",
  "/posko/posko.css",
  "/posko/app.js",
  "/posko/page.js",
  "/posko/i18n.js",
  "/posko/store.js",
  "/posko/session.js",
  "/posko/sender.js",
  "/posko/entry.js",
  "/posko/today.js",
  "/posko/batch.js",
  "/style.css",
  "/i18n.js",
  "/net.js",
  "/rules.js",
  "/language.js",
  "/form_errors.js",
  "/sign_up_fields.js",
  "/data/regions.json",
  "/favicon.svg",
];
const KEPT = new Set(SHELL);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  // Every address of the page (/posko/hari-ini, /posko/hasil?e=…) is the same shell.
  const key = request.mode === "navigate" ? "/posko/" : url.pathname;
  if (!KEPT.has(key)) return;
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(key, copy));
        }
        return response;
      })
      .catch(() => caches.match(key).then((cached) => cached || Response.error())),
  );
});
