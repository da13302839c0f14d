// Talking to the API from a cheap phone on a busy day: every request ends in an answer the page
// can act on (never a thrown error), and retries wait as the server asks, back off, spread out,
// and stop after a known number of tries, so the page never tells a person it will try again
// and then does not (or tries fifty times in a second).

// A request that gets no answer in this time is abandoned and treated as a timeout. The gateway
// itself gives up on the API after 15 s (proxy_read_timeout) and answers 504 then; this only
// catches connections that went silent.
export const REQUEST_TIMEOUT_MS = 20_000;

// How a failed try is retried, by kind: `firstS` is the first delay when the server names none,
// doubled per consecutive failure; `tries` is how many failures of that kind we accept before
// stopping and telling the person. Busy answers get many tries: in a rush every retry is a
// fresh chance, and the server's Retry-After keeps them spread out.
export const RETRY = {
  busy: { firstS: 1, tries: 30 },
  server: { firstS: 2, tries: 5 },
  timeout: { firstS: 2, tries: 4 },
  network: { firstS: 2, tries: 6 },
};
// Our own backoff never grows past this; a server's Retry-After is honoured up to MAX_WAIT_S
// (the API caps its own at 120 s, so only a broken header gets clipped).
export const BACKOFF_CAP_S = 60;
export const MAX_WAIT_S = 300;

const BUSY = new Set([429, 502, 503]);

// What kind of failure an answer is, or null when it is final (success, or an error that a
// retry would only repeat: 4xx other than 429, which the caller shows).
export function failureKind(answer) {
  if (answer.status === 0) return answer.offline ? "offline" : answer.timedOut ? "timeout" : "network";
  if (BUSY.has(answer.status)) return "busy";
  if (answer.status === 504) return "timeout";
  if (answer.status >= 500) return "server";
  return null;
}

// Seconds to wait before the next try: never sooner than the server asked (Retry-After), at
// least our own exponential backoff, and 0-30% later at random so a crowd turned away in the
// same second does not come back in the same second.
export function retryDelayS(kind, failuresInARow, retryAfterS, random = Math.random) {
  const backoff = Math.min(BACKOFF_CAP_S, RETRY[kind].firstS * 2 ** (failuresInARow - 1));
  const floor = Math.min(MAX_WAIT_S, retryAfterS ?? 0);
  return Math.max(floor, backoff) * (1 + 0.3 * random());
}

// Retry-After is either seconds or an HTTP date (RFC 9110); anything else counts as absent.
export function parseRetryAfter(value, now = Date.now()) {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}

// `body` is sent as JSON, or as it is when it is a form (FormData).
export async function api(
  method,
  path,
  { body, headers = {}, lang = "id", timeoutMs = REQUEST_TIMEOUT_MS } = {},
) {
  if (navigator.onLine === false) return { status: 0, offline: true, json: null };
  const asJson = body && !(body instanceof FormData);
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  try {
    const response = await fetch(path, {
      method,
      headers: {
        Accept: "application/json",
        "Accept-Language": lang,
        ...(asJson ? { "Content-Type": "application/json" } : {}),
        ...headers,
      },
      body: asJson ? JSON.stringify(body) : body,
      credentials: "omit",
      cache: "no-store",
      signal: abort.signal,
    });
    const text = await response.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      json = null; // an HTML error page from a proxy, or an empty body: the status still counts
    }
    return {
      status: response.status,
      json,
      text,
      retryAfterS: parseRetryAfter(response.headers.get("Retry-After")),
    };
  } catch {
    // fetch rejects (TypeError) when no connection could be made or it dropped; the browser
    // may only now have noticed that it is offline.
    return { status: 0, json: null, timedOut, offline: !timedOut && navigator.onLine === false };
  } finally {
    clearTimeout(timer);
  }
}

// Resolves when the browser says the connection is back.
export function whenOnline() {
  return new Promise((resolve) => window.addEventListener("online", resolve, { once: true }));
}

// Waits `ms`, or less when the connection comes back (a dropped connection that returns is the
// moment to try, not the end of a backoff) or `cancelled` resolves.
export function pause(ms, { wakeOnOnline = false, cancelled = null } = {}) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener("online", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (wakeOnOnline) window.addEventListener("online", done, { once: true });
    if (cancelled) cancelled.then(done);
  });
}

// Keeps sending `request()` until its answer is final, a kind of failure has used up its tries,
// or `cancelled` resolves. `onWait({kind, answer, delayS, tries, maxTries})` is called once per
// retry, before waiting (delayS is null when waiting for the connection). `budget` carries the
// counts across calls that make up one piece of work (a challenge and the sign-up it unlocks).
export async function untilFinal(request, { onWait, cancelled = null, budget = newBudget() }) {
  let stop = false;
  cancelled?.then(() => {
    stop = true;
  });
  for (;;) {
    if (navigator.onLine === false) {
      // Nothing is sent while the browser knows it is offline, so nothing is counted either.
      onWait({ kind: "offline", answer: null, delayS: null, tries: 0, maxTries: null });
      await Promise.race([whenOnline(), cancelled ?? new Promise(() => {})]);
      if (stop) return { gaveUp: "cancelled", answer: null };
      continue;
    }
    const answer = await request();
    const kind = failureKind(answer);
    if (kind === null) {
      budget.inARow = 0;
      return { answer };
    }
    if (kind === "offline") continue; // the loop's top waits for the connection
    budget.inARow += 1;
    budget.byKind[kind] = (budget.byKind[kind] || 0) + 1;
    const tries = budget.byKind[kind];
    if (tries >= RETRY[kind].tries) return { gaveUp: kind, answer, tries };
    if (stop) return { gaveUp: "cancelled", answer };
    const delayS = retryDelayS(kind, budget.inARow, answer.retryAfterS);
    onWait({ kind, answer, delayS, tries, maxTries: RETRY[kind].tries });
    await pause(delayS * 1000, { wakeOnOnline: kind === "network", cancelled });
    if (stop) return { gaveUp: "cancelled", answer };
  }
}

export function newBudget() {
  return { inARow: 0, byKind: {} };
}
