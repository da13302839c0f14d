// Solver for ALTCHA's proof-of-work challenge (protocol v1, as issued by the `altcha` Python
// library on the API): find the number n with SHA-256(salt + n) == challenge. The page solves
// it invisibly; the API asks for it only while it is under heavy load.

const encoder = new TextEncoder();

async function sha256Hex(text) {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function solveChallenge(challenge) {
  const started = performance.now();
  for (let n = 0; n <= challenge.maxNumber; n += 1) {
    if ((await sha256Hex(challenge.salt + n)) === challenge.challenge) {
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
  return null;
}
