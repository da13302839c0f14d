// The officers' page at /posko/: sign-in, the walk-in form and its answer, today's entries and
// the CSV upload. Plain ES modules, no build step, like the public page; every move between
// views happens in the page (history.pushState), so a dropped connection never strands the
// officer on a browser error page. Server texts are always set with textContent.
import { clock, currentLang, el, main, onLanguage, setLanguage, setView, t } from "./page.js";
import { allEntries, onChange, pruneOld, putEntry } from "./store.js";
import { officerKey, owner, signIn, signOut } from "./session.js";
import { onStatus, resumeSender, startSender, status } from "./sender.js";
import { showAnswer, showForm } from "./entry.js";
import { showToday, stopToday } from "./today.js";
import { showBatch } from "./batch.js";

const nav = document.getElementById("nav");
const line = document.getElementById("queue-line");
const banner = document.getElementById("banner");
// A message above the view that outlives a move between views (a function of the language).
let bannerText = null;
let bannerAction = null;

function setBanner(text, action = null) {
  bannerText = text;
  bannerAction = action;
  renderBanner();
}

function renderBanner() {
  banner.replaceChildren();
  if (!bannerText) return;
  banner.append(el("p", { text: bannerText() }));
  if (bannerAction) {
    const button = el("button", { type: "button", class: "secondary", text: bannerAction.label() });
    button.addEventListener("click", bannerAction.run);
    banner.append(button);
  }
}

// ---------------------------------------------------------------------------------------------
// Sign-in

function showSignIn(next) {
  main.innerHTML = `
    <h1 id="signin-title" tabindex="-1" data-t="signInTitle"></h1>
    <p data-t="signInIntro"></p>
    <form id="signin" method="post" novalidate>
      <div class="field">
        <label for="officer-key" data-t="keyLabel"></label>
        <p class="hint" id="key-hint" data-t="keyHint"></p>
        <input type="text" id="officer-key" name="officer_key" class="mono" autocomplete="off"
          autocapitalize="off" spellcheck="false" aria-describedby="key-hint key-error" required>
        <p class="error" id="key-error"></p>
      </div>
      <button type="submit" class="primary" id="signin-submit" data-t="signIn"></button>
    </form>`;
  let error = null;
  const draw = () => {
    const input = document.getElementById("officer-key");
    if (!input) return;
    document.getElementById("key-error").textContent = error ? t(error) : "";
    input.setAttribute("aria-invalid", error ? "true" : "false");
  };
  setView(() => t("titles").signIn, draw);
  setLanguage(currentLang());
  nav.hidden = true;
  line.hidden = true;
  document.getElementById("signin-title").focus();
  document.getElementById("signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("signin-submit");
    if (button.disabled) return;
    const key = document.getElementById("officer-key").value.trim();
    // A key is printable ASCII; anything else could not even travel in a header.
    error = !key ? "keyMissing" : /^[\x21-\x7e]+$/.test(key) ? null : "keyRefused";
    if (!error) {
      button.disabled = true;
      button.textContent = t("signingIn");
      const outcome = await signIn(key, currentLang());
      button.disabled = false;
      button.textContent = t("signIn");
      if (outcome === "refused") error = "keyRefused";
      else {
        setBanner(outcome === "unchecked" ? () => t("keyUnchecked") : null);
        resumeSender();
        await signedIn();
        return next();
      }
    }
    draw();
    document.getElementById("officer-key").focus();
  });
}

async function signedIn() {
  nav.hidden = false;
  line.hidden = false;
  await renderLine();
  // Entries saved on this device under another key (a colleague, or this officer's revoked
  // key): offered, never sent silently as this officer's attestation.
  const others = (await allEntries()).filter(
    (e) => e.owner !== owner() && (e.state === "saved" || e.state === "sent"),
  );
  if (others.length && !bannerText) {
    setBanner(() => t("otherOwner")(others.length), {
      label: () => t("takeOver"),
      run: async () => {
        for (const e of others) await putEntry({ ...e, owner: owner() });
        setBanner(null);
      },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// The header's line: the connection, and what waits on this device.

async function renderLine() {
  if (line.hidden) return;
  const mine = (await allEntries()).filter((e) => e.owner === owner());
  const saved = mine.filter((e) => e.state === "saved").length;
  const sent = mine.filter((e) => e.state === "sent").length;
  const online = navigator.onLine !== false && status.phase !== "offline";
  const conn = document.getElementById("conn");
  conn.textContent = online ? t("online") : t("offline");
  conn.dataset.online = String(online);
  let text = t("queueLine")(saved, sent);
  if (status.phase === "waiting" && status.nextAt) text += ` ${t("retryAt")(clock(status.nextAt))}`;
  const queue = document.getElementById("queue");
  if (queue.textContent !== text) queue.textContent = text;
}

onChange(() => renderLine());
onStatus(() => {
  renderLine();
  if (status.phase === "keyRefused" && officerKey()) {
    signOut();
    setBanner(() => t("keyRefusedLater"));
    showSignIn(route);
  }
});
window.addEventListener("online", () => renderLine());
window.addEventListener("offline", () => renderLine());
onLanguage(() => {
  nav.setAttribute("aria-label", t("nav").label);
  renderBanner();
  renderLine();
});

// ---------------------------------------------------------------------------------------------
// Routes

const ROUTES = {
  "/posko/": "form",
  "/posko/index.html": "form",
  "/posko/hasil": "answer",
  "/posko/hari-ini": "today",
  "/posko/unggah": "batch",
};

function route() {
  stopToday();
  if (!officerKey()) return showSignIn(route);
  const name = ROUTES[location.pathname] || "form";
  for (const link of nav.querySelectorAll("a[data-route]")) {
    if (link.dataset.route === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const params = new URLSearchParams(location.search);
  if (name === "answer") return showAnswer(params.get("e"));
  if (name === "today") return showToday();
  if (name === "batch") return showBatch();
  return showForm(params.get("perbaiki"));
}

// Links inside the page move within it: no page load, which may be impossible offline.
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !(url.pathname in ROUTES) || link.target) return;
  event.preventDefault();
  history.pushState(null, "", url.pathname + url.search);
  route();
});
window.addEventListener("popstate", route);

document.getElementById("sign-out").addEventListener("click", async () => {
  const waiting = (await allEntries()).filter(
    (e) => e.owner === owner() && (e.state === "saved" || e.state === "sent"),
  ).length;
  signOut();
  setBanner(waiting ? () => t("signedOutPending")(waiting) : null);
  history.pushState(null, "", "/posko/");
  route();
});

// The shell comes from the service worker's cache when the connection is gone, so the page
// (and its queue) opens offline too.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/posko/sw.js", { scope: "/posko/" }).catch(() => {});
}

pruneOld().catch(() => {});
setView(() => t("titles").form, () => {});
setLanguage(currentLang());
if (officerKey()) {
  await signedIn();
  startSender();
}
route();
