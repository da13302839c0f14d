// The device's queue of walk-in entries, in IndexedDB: it survives a reload, a closed tab, a
// crashed browser and a night without connection. Each entry gets its Idempotency-Key (its id)
// the moment it is saved, so however often it is sent, the server registers the person once.
//
// An entry: { id (the Idempotency-Key), owner (fingerprint of the officer key that saved it),
// createdAt, state: saved | sent | accepted | refused, attempts, payload (personal data; null
// once accepted), nikLast4, registrationId, statusToken, acceptedAt, errors, httpStatus }.
// Once the server accepts an entry only a receipt stays: the NIK's last four digits, the
// registration number and the status code (to print the slip again), no name, no full NIK.

const DB_NAME = "gelombang-posko";
const STORE = "entries";
// Receipts and refused entries older than this are removed when the page starts.
const KEEP_MS = 3 * 24 * 3600 * 1000;

let dbPromise = null;
const channel = "BroadcastChannel" in window ? new BroadcastChannel("gelombang-posko") : null;
const listeners = new Set();

function open() {
  dbPromise ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: "id" });
      store.createIndex("owner", "owner");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return dbPromise;
}

async function run(mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    // Resolved on commit, not on the request: a put is durable only once its transaction is.
    tx.oncomplete = () => resolve(result.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

// Every change is announced here and to the page's other tabs.
export function onChange(listener) {
  listeners.add(listener);
}

function changed() {
  for (const listener of listeners) listener();
  channel?.postMessage("changed");
}
channel?.addEventListener("message", () => {
  for (const listener of listeners) listener();
});

export async function putEntry(entry) {
  await run("readwrite", (store) => store.put(entry));
  changed();
}

export function getEntry(id) {
  return run("readonly", (store) => store.get(id));
}

export async function deleteEntry(id) {
  await run("readwrite", (store) => store.delete(id));
  changed();
}

export async function allEntries() {
  const entries = await run("readonly", (store) => store.getAll());
  return entries.sort((a, b) => a.createdAt - b.createdAt);
}

export async function entriesOf(owner) {
  return (await allEntries()).filter((e) => e.owner === owner);
}

// Updates one entry from its stored state (another tab may have moved it on meanwhile).
export async function updateEntry(id, change) {
  const current = await getEntry(id);
  if (!current) return null;
  const next = { ...current, ...change(current) };
  await putEntry(next);
  return next;
}

// The server has it: from now on only what the slip needs stays on the device.
export function acceptedReceipt(entry, registrationId, statusToken, now = Date.now()) {
  return {
    id: entry.id,
    owner: entry.owner,
    createdAt: entry.createdAt,
    state: "accepted",
    attempts: entry.attempts,
    payload: null,
    nikLast4: entry.nikLast4,
    registrationId,
    statusToken,
    acceptedAt: now,
    errors: [],
    httpStatus: 202,
  };
}

export async function acceptEntry(id, registrationId, statusToken) {
  const current = await getEntry(id);
  if (!current) return null;
  const receipt = acceptedReceipt(current, registrationId, statusToken);
  // put replaces the whole record: the personal fields are gone from the store, not blanked.
  await putEntry(receipt);
  return receipt;
}

export async function pruneOld(now = Date.now()) {
  const old = (await allEntries()).filter(
    (e) => (e.state === "accepted" || e.state === "refused") && now - e.createdAt > KEEP_MS,
  );
  if (!old.length) return;
  await run("readwrite", (store) => {
    let last = null;
    for (const e of old) last = store.delete(e.id);
    return last;
  });
  changed();
}
