// Sends the device's queue, oldest first, for as long as the page is open: at once while there
// is a connection, and again the moment the browser says it is back. An entry is marked "sent"
// before its request goes out, so after a crash or a lost answer it is sent again, with the
// same Idempotency-Key: the server answers the first registration again instead of making a
// second one. Failures wait as the server asks (Retry-After) and back off with jitter up to a
// cap, as the public page does (/net.js); unlike the public page the queue never gives up, it
// only waits longer, because the walk-in has gone home and the entry must still arrive.
import { api, failureKind, pause, retryDelayS } from "/net.js";
import { acceptEntry, entriesOf, onChange, updateEntry } from "./store.js";
import { authorization, officerKey, owner } from "./session.js";
import { currentLang } from "./page.js";

const REGISTRATIONS = "/api/v1/assisted/registrations";

// What the queue is doing, for the header line and the answer view.
export const status = {
  phase: "idle", // idle | sending | waiting | offline | keyRefused
  nextAt: null, // when a waiting entry is tried again (ms since epoch)
  problem: null, // { kind, status, code } of the last failure
  entryId: null, // the entry being sent or waited on
};
const listeners = new Set();
let running = false;
// Store changes wake the queue when it has nothing to do or no connection; they never cut a
// wait the server asked for (only "send now" and, after a dropped connection, "online" do).
let idleWake = null;
let idleDirty = false;
let urgentWake = null;

export function onStatus(listener) {
  listeners.add(listener);
}

function report(change) {
  Object.assign(status, change);
  for (const listener of listeners) listener();
}

export function kick() {
  idleDirty = true;
  const resolve = idleWake;
  idleWake = null;
  resolve?.();
}

// The officer's "send now": ends any wait.
export function sendNow() {
  kick();
  const resolve = urgentWake;
  urgentWake = null;
  resolve?.();
}

function idleNap(ms) {
  if (idleDirty) return Promise.resolve();
  return pause(ms, { cancelled: new Promise((resolve) => (idleWake = resolve)) });
}

function backoffNap(ms, wakeOnOnline) {
  return pause(ms, { wakeOnOnline, cancelled: new Promise((resolve) => (urgentWake = resolve)) });
}

onChange(() => kick());
window.addEventListener("online", () => kick());
window.addEventListener("offline", () => report({ phase: "offline" }));

// One sender per officer key across the page's tabs (Web Locks where the browser has them);
// a second tab would only send the same keys again, which is safe but wasteful.
export function startSender() {
  if (running) return kick();
  running = true;
  const loop = () => sendLoop().finally(() => (running = false));
  if (navigator.locks?.request) {
    navigator.locks.request(`gelombang-posko-sender-${owner()}`, loop);
  } else {
    loop();
  }
}

async function sendLoop() {
  let failures = 0;
  for (;;) {
    idleDirty = false;
    const me = owner();
    if (!officerKey() || !me) return report({ phase: "idle", entryId: null });
    if (status.phase === "keyRefused") return;
    const next = (await entriesOf(me)).find((e) => e.state === "saved" || e.state === "sent");
    if (!next) {
      report({ phase: "idle", entryId: null, nextAt: null });
      await idleNap(60_000);
      continue;
    }
    if (navigator.onLine === false) {
      report({ phase: "offline", entryId: next.id, nextAt: null });
      await idleNap(60_000);
      continue;
    }
    report({ phase: "sending", entryId: next.id, nextAt: null });
    await updateEntry(next.id, (e) => ({ state: "sent", attempts: (e.attempts || 0) + 1 }));
    const answer = await api("POST", REGISTRATIONS, {
      body: next.payload,
      headers: { ...authorization(), "Idempotency-Key": next.id },
      lang: currentLang(),
    });
    const kind = failureKind(answer);
    if (kind === "offline") {
      // Nothing reached the server as far as we know; it stays "sent", resent with its key.
      report({ phase: "offline", problem: { kind } });
      continue;
    }
    if (kind !== null) {
      failures += 1;
      const delayS = retryDelayS(kind, failures, answer.retryAfterS);
      const code = answer.json?.errors?.[0]?.code || null;
      // A refusal the API itself gave (429, or a 503 naming its reason) means "not taken": the
      // entry is plainly not sent. Anything else (a timeout, a dropped connection, a proxy's
      // 502/503/504) may have been taken, and stays "sent" until an answer says which.
      if (answer.status === 429 || (answer.status === 503 && code)) {
        await updateEntry(next.id, () => ({ state: "saved" }));
      }
      report({
        phase: "waiting",
        nextAt: Date.now() + delayS * 1000,
        problem: { kind, status: answer.status, code },
      });
      await backoffNap(delayS * 1000, kind === "network" || kind === "timeout");
      continue;
    }
    failures = 0;
    await settle(next, answer);
  }
}

async function settle(entry, answer) {
  const json = answer.json;
  if (answer.status === 202 && json?.registration_id && json?.status_token) {
    await acceptEntry(entry.id, String(json.registration_id), String(json.status_token));
    return;
  }
  if (answer.status === 401) {
    // Nothing was done with this request: the entry waits, unsent, for a valid key.
    await updateEntry(entry.id, () => ({ state: "saved" }));
    report({ phase: "keyRefused", entryId: null });
    return;
  }
  const lang = currentLang();
  const errors = Array.isArray(json?.errors)
    ? json.errors.map((e) => ({ field: e.field || "", code: e.code || "unknown", message: e.message || null, lang }))
    : [];
  await updateEntry(entry.id, () => ({ state: "refused", httpStatus: answer.status, errors }));
}

// Called once the officer signs in again after the key was refused.
export function resumeSender() {
  if (status.phase === "keyRefused") report({ phase: "idle" });
  startSender();
}

// Any request that meets a 401 (the list, an upload): the key is no longer valid.
export function keyRefused() {
  report({ phase: "keyRefused", entryId: null });
}
