// Today's entries: what this device holds (not sent, waiting, refused) and everything the posko
// registered today with its status at the server (the API lists this posko's submissions only;
// the page never sees another posko's). Without a connection, this device's receipts stand in.
import { api } from "/net.js";
import { clock, currentLang, el, errorText, main, setLanguage, setView, t } from "./page.js";
import { entriesOf, onChange } from "./store.js";
import { authorization, owner } from "./session.js";
import { keyRefused } from "./sender.js";

// Every read of the list is a row in the audit log: refreshed every 30 s, and only while the
// officer can see it.
const REFRESH_MS = 30_000;
const PAGE = 200;
const MAX_PAGES = 10;

let server = null; // { items, at } from the last good answer, or null
let serverFailed = false;
let timer = null;
let pendingRefresh = null;

function startOfToday() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function stopToday() {
  clearTimeout(timer);
  timer = null;
}

export function showToday() {
  main.innerHTML = `
    <h1 id="today-title" tabindex="-1" data-t="todayTitle"></h1>
    <p data-t="todayIntro"></p>
    <p id="today-server" class="notice bad" hidden data-t="todayServerFailed"></p>
    <ol id="today-list" class="entries"></ol>
    <p id="today-empty" hidden data-t="todayEmpty"></p>
    <p id="today-updated" class="hint"></p>`;
  setView(() => t("titles").today, () => render());
  setLanguage(currentLang());
  document.getElementById("today-title").focus();
  refresh();
}

function visible() {
  return !!document.getElementById("today-list");
}

async function refresh() {
  clearTimeout(timer);
  if (!visible()) return;
  if (document.visibilityState === "hidden") {
    document.addEventListener("visibilitychange", refresh, { once: true });
    return;
  }
  await fetchServer();
  await render();
  if (visible()) timer = setTimeout(refresh, REFRESH_MS);
}

// A burst of changes (ten entries accepted one after the other) asks the server once.
onChange(() => {
  if (!visible()) return;
  render();
  clearTimeout(pendingRefresh);
  pendingRefresh = setTimeout(refresh, 1000);
});

async function fetchServer() {
  const since = startOfToday();
  const items = [];
  let before = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query = `limit=${PAGE}${before ? `&before=${encodeURIComponent(before)}` : ""}`;
    const answer = await api("GET", `/api/v1/assisted/registrations?${query}`, {
      headers: authorization(),
      lang: currentLang(),
    });
    if (answer.status === 401) {
      keyRefused();
      return;
    }
    if (answer.status !== 200 || !answer.json) {
      serverFailed = true;
      return;
    }
    const fresh = answer.json.items.filter((i) => Date.parse(i.submitted_at) >= since);
    items.push(...fresh);
    before = answer.json.next_before;
    if (!before || fresh.length < answer.json.items.length) break;
  }
  server = { items, at: Date.now() };
  serverFailed = false;
}

function serverState(item) {
  const words = t("serverStatus")[item.status] || item.status;
  const reason = item.reason ? `: ${t("reasons")[item.reason] || item.reason}` : "";
  return `${words}${reason}`;
}

async function render() {
  if (!visible()) return;
  const since = startOfToday();
  const local = await entriesOf(owner());
  if (!visible()) return;
  const rows = [];
  // Not accepted yet: whatever their day, they are today's work.
  for (const e of local.filter((x) => x.state !== "accepted")) {
    const detail =
      e.state === "refused"
        ? e.httpStatus === 409
          ? t("errors").nik_already_registered
          : (e.errors || []).map((x) => errorText(x)).join(" ") || t("refusedStatus")(e.httpStatus)
        : null;
    rows.push({ at: e.createdAt, last4: e.nikLast4, state: e.state, words: t("state")[e.state], detail, source: "device", entry: e.id, registrationId: null });
  }
  const receipts = new Map(
    local.filter((x) => x.state === "accepted").map((x) => [x.registrationId, x]),
  );
  const shown = new Set();
  for (const item of server?.items || []) {
    const receipt = receipts.get(item.registration_id);
    shown.add(item.registration_id);
    rows.push({
      at: Date.parse(item.submitted_at),
      last4: item.nik_last4 || receipt?.nikLast4 || "····",
      state: "accepted",
      words: `${t("state").accepted} · ${serverState(item)}`,
      detail: null,
      source: receipt ? "device" : item.batch_id ? "batch" : "other",
      entry: receipt?.id || null,
      registrationId: item.registration_id,
      serverStatus: item.status,
    });
  }
  for (const r of receipts.values()) {
    if (shown.has(r.registrationId) || r.createdAt < since) continue;
    rows.push({ at: r.acceptedAt || r.createdAt, last4: r.nikLast4, state: "accepted", words: t("state").accepted, detail: null, source: "device", entry: r.id, registrationId: r.registrationId });
  }
  const pending = rows.filter((r) => r.state !== "accepted").sort((a, b) => a.at - b.at);
  const done = rows.filter((r) => r.state === "accepted").sort((a, b) => b.at - a.at);
  const list = document.getElementById("today-list");
  list.replaceChildren(...[...pending, ...done].map(item));
  document.getElementById("today-empty").hidden = rows.length > 0;
  document.getElementById("today-server").hidden = !serverFailed;
  document.getElementById("today-updated").textContent = server ? t("todayUpdated")(clock(server.at)) : "";
}

function item(row) {
  const li = el("li", {
    "data-state": row.state,
    "data-registration-id": row.registrationId,
    "data-server-status": row.serverStatus,
  });
  li.append(
    el("span", { class: "entry-time", text: clock(row.at) }),
    el("span", { class: "entry-nik mono", text: `****${row.last4}` }),
    el("span", { class: "entry-state", text: row.words }),
    el("span", { class: "entry-source hint", text: t("source")[row.source] }),
  );
  if (row.detail) li.append(el("span", { class: "entry-detail", text: row.detail }));
  if (row.entry) {
    const link = el("a", {
      href: `/posko/hasil?e=${encodeURIComponent(row.entry)}`,
      "data-route": "answer",
      text: `${t("open")}: ****${row.last4}`,
    });
    li.append(link);
  }
  return li;
}
