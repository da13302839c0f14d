// Solver for ALTCHA's proof-of-work challenge (protocol v1, as issued by the `altcha` Python
// library on the API): find the number n with SHA-256(salt + n) == challenge. The page solves
// it while the person watches the progress under the send button; the API asks for it only
// while it is under heavy load.
//
// SHA-256 is computed here in plain JavaScript rather than with crypto.subtle: one awaited
// digest per number costs a promise and a trip into the browser for every try (5.8 s for the
// API's 100,000 on a CPU slowed 6x), while a loop over one 64-byte block, with the salt's full
// blocks hashed once, costs about a microsecond. The loop yields to the page every few thousand
// numbers (through a MessageChannel, which timers and a paused test clock do not hold up), so
// the page stays responsive and the progress bar moves. README ("Bots") has the measured times.

const K = Int32Array.of(
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
);
const INIT = Int32Array.of(
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
);
const W = new Int32Array(64);

// One 64-byte block of `bytes` at `at` into the running state `h` (eight 32-bit words).
function compress(h, bytes, at) {
  for (let i = 0; i < 16; i += 1) {
    const j = at + i * 4;
    W[i] = (bytes[j] << 24) | (bytes[j + 1] << 16) | (bytes[j + 2] << 8) | bytes[j + 3];
  }
  for (let i = 16; i < 64; i += 1) {
    const x = W[i - 15];
    const y = W[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = h[0];
  let b = h[1];
  let c = h[2];
  let d = h[3];
  let e = h[4];
  let f = h[5];
  let g = h[6];
  let k = h[7];
  for (let i = 0; i < 64; i += 1) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (k + s1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    k = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + b) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0;
  h[4] = (h[4] + e) | 0;
  h[5] = (h[5] + f) | 0;
  h[6] = (h[6] + g) | 0;
  h[7] = (h[7] + k) | 0;
}

// SHA-256(salt + n) for n = 0, 1, 2, …: the salt's whole blocks are hashed once; each number
// costs its last one or two blocks only.
function searcher(salt) {
  const prefix = new TextEncoder().encode(salt);
  const whole = prefix.length - (prefix.length % 64);
  const mid = Int32Array.from(INIT);
  for (let at = 0; at < whole; at += 64) compress(mid, prefix, at);
  const tail = prefix.subarray(whole);
  const buffer = new Uint8Array(192);
  buffer.set(tail);
  const state = new Int32Array(8);
  return (n) => {
    const digits = String(n);
    let end = tail.length;
    for (let i = 0; i < digits.length; i += 1) buffer[end++] = digits.charCodeAt(i);
    const bits = (prefix.length + digits.length) * 8;
    const blocks = end + 9 <= 64 ? 1 : end + 9 <= 128 ? 2 : 3;
    buffer[end] = 0x80;
    buffer.fill(0, end + 1, blocks * 64 - 4);
    const last = blocks * 64;
    buffer[last - 4] = bits >>> 24;
    buffer[last - 3] = bits >>> 16;
    buffer[last - 2] = bits >>> 8;
    buffer[last - 1] = bits;
    state.set(mid);
    for (let b = 0; b < blocks; b += 1) compress(state, buffer, b * 64);
    return state;
  };
}

function wordsOf(hex) {
  if (!/^[0-9a-f]{64}$/i.test(hex)) return null;
  return Int32Array.from({ length: 8 }, (_, i) => parseInt(hex.slice(i * 8, i * 8 + 8), 16) | 0);
}

// A turn for the page: a message through a MessageChannel runs after whatever is queued, and
// unlike setTimeout it is neither clamped in a background tab nor held by a paused test clock.
const channel = new MessageChannel();
const waiting = [];
channel.port1.onmessage = () => waiting.shift()?.();
const yieldToPage = () =>
  new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(null);
  });

const STEP = 4096;

// The base64 payload for the X-Altcha header, or null when no number up to maxNumber fits.
// onProgress(fraction) is told how much of the range has been searched (the answer lies
// anywhere in it, so this is the most that is left, not a promise).
export async function solveChallenge(challenge, onProgress = () => {}) {
  const started = performance.now();
  const target = wordsOf(String(challenge.challenge));
  const max = Number(challenge.maxNumber);
  if (challenge.algorithm !== "SHA-256" || !target || !Number.isSafeInteger(max) || max < 0) {
    return null;
  }
  const hash = searcher(String(challenge.salt));
  for (let from = 0; from <= max; from += STEP) {
    const to = Math.min(max, from + STEP - 1);
    for (let n = from; n <= to; n += 1) {
      const h = hash(n);
      if (
        h[0] === target[0] && h[1] === target[1] && h[2] === target[2] && h[3] === target[3] &&
        h[4] === target[4] && h[5] === target[5] && h[6] === target[6] && h[7] === target[7]
      ) {
        onProgress(1);
        const payload = {
          algorithm: challenge.algorithm,
          challenge: challenge.challenge,
          number: n,
          salt: challenge.salt,
          signature: challenge.signature,
          took: Math.round(performance.now() - started),
        };
        return btoa(JSON.stringify(payload));
      }
    }
    onProgress((to + 1) / (max + 1));
    await yieldToPage();
  }
  return null;
}
