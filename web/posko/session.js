// The officer's key: in this tab's sessionStorage only (gone when the tab closes), never in an
// address, never in localStorage or IndexedDB. Entries are stamped with a fingerprint of the
// key that saved them (its SHA-256, which reveals nothing of the key), so a colleague who signs
// in on the same PC does not send, as their own attestation, what someone else recorded.
import { api } from "/net.js";

const KEY = "gelombang.posko.key";
const OWNER = "gelombang.posko.owner";

export function officerKey() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function owner() {
  try {
    return sessionStorage.getItem(OWNER);
  } catch {
    return null;
  }
}

export function authorization() {
  return { Authorization: `Bearer ${officerKey()}` };
}

async function fingerprint(key) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// "ok": the server knows the key; "refused": it does not; "unchecked": the server could not be
// asked (offline, busy): the officer may work on, and the queue finds out when it sends.
export async function signIn(key, lang) {
  const answer = await api("GET", "/api/v1/assisted/registrations?limit=1", {
    headers: { Authorization: `Bearer ${key}` },
    lang,
  });
  if (answer.status === 401) return "refused";
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(OWNER, await fingerprint(key));
  return answer.status === 200 ? "ok" : "unchecked";
}

// Everything the page kept in this tab (the key, its fingerprint, the batch being followed).
export function signOut() {
  for (const name of Object.keys(sessionStorage)) {
    if (name.startsWith("gelombang.posko.")) sessionStorage.removeItem(name);
  }
}
