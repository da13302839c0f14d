// The sign-up form: what the person types, the checks before sending, sending until there is a
// final answer (the waiting screen while the site is busy or the connection is gone), and the
// answers that are not a success.
import { api, newBudget, untilFinal } from "./net.js";
import {
  complaintsLine,
  currentLang,
  localized,
  main,
  refreshTitle,
  serverMessage,
  setLanguage,
  setView,
  t,
} from "./page.js";
import { SUMMARY_HTML, fieldErrors } from "./form_errors.js";
import {
  answerChecks,
  answersOf,
  checkWhileTyping,
  fillSelects,
  newKey,
  questionsHtml,
} from "./sign_up_fields.js";
import { SENT_KEY, showStatus } from "./status.js";

// ---------------------------------------------------------------------------------------------
// The form

// The form and the waiting screen are siblings so that only one of them, and its one h1, is
// shown at a time. method="post": should the script ever fail before it takes over, a native
// submit must never put the NIK in an address.
const FORM_HTML = `
<div id="form-view">
<h1 data-t="title"></h1>
<p data-t="intro"></p>
<div id="again-notice" class="notice" tabindex="-1"></div>
${SUMMARY_HTML}
<form id="signup" method="post" novalidate>
${questionsHtml({
  autocomplete: { name: "name", birthDate: "bday", email: "email", phone: "tel" },
  contactOrder: ["email", "phone"],
  consentHint: "consentPurpose",
})}
  <section id="already" class="notice bad" tabindex="-1" aria-labelledby="already-title" hidden>
    <h2 id="already-title" data-t="alreadyTitle"></h2>
    <p data-t="alreadyText"></p>
    <p data-t="alreadyTypo"></p>
    <p id="already-help"></p>
    <p class="lost-link"><a href="/tautan" data-t="lostLinkCta"></a></p>
  </section>
  <div id="form-notice" class="notice bad" role="alert" tabindex="-1"></div>
  <button type="submit" class="primary" id="submit" data-t="submit"></button>
  <div id="pow" class="pow" hidden>
    <p id="pow-text" class="hint" role="status"></p>
    <progress id="pow-progress" max="100" value="0" aria-labelledby="pow-text"></progress>
  </div>
</form>
<p class="lost-link"><a href="/tautan" data-t="lostLinkCta"></a></p>
</div>
<section id="wait" hidden aria-labelledby="wait-title">
  <h1 id="wait-title" tabindex="-1"></h1>
  <div id="wait-live" role="status" aria-atomic="true">
    <p id="wait-what"></p>
    <p id="wait-when"></p>
  </div>
  <p id="wait-estimate" class="hint" hidden></p>
  <progress id="wait-progress" max="100" value="0" aria-hidden="true"></progress>
  <p id="wait-fair" class="hint" data-t="waitFair"></p>
  <p id="wait-tries" class="hint"></p>
  <p class="hint" data-t="waitSafe"></p>
  <button type="button" class="secondary" id="wait-stop" data-t="waitStop"></button>
</section>`;

const FIELDS = [
  "nik", "full_name", "birth_date", "email", "phone", "province_code", "regency_code",
  "employment_status", "in_formal_education", "receives_social_aid", "consent",
];

// One sign-up attempt: the same key for every retry of the same data, so a retry after a
// lost answer, a waiting-screen pass or a reload can never register twice.
let pending = null;
const errors = fieldErrors({
  fields: FIELDS,
  statements: ["consent"],
  text: localized,
  refreshTitle,
});
// What the last final answer said, kept as a function of the language so a switch redraws it.
let outcome = null;
// Set when the status page sent the person back here to register again (see status.js): the
// rejection's reason, and whether the form could be refilled.
let again = null;

// ---------------------------------------------------------------------------------------------
// Draft: what was typed survives a reload or a look at the terms page. sessionStorage is this
// tab's only and is gone when the tab closes; never localStorage, which would leave a NIK on a
// shared phone for the next person. Consent is not kept: it is given each time, on purpose.

const DRAFT_KEY = "gelombang.draft";
const DRAFT_FIELDS = FIELDS.filter((name) => name !== "consent");

function saveDraft(form) {
  const values = {};
  for (const name of DRAFT_FIELDS) {
    // A radio group's RadioNodeList answers .value with the checked one's value.
    values[name] = form.elements[name].value;
  }
  try {
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ values, pending }));
  } catch {
    // storage full or switched off (some private modes): the form still works, unsaved
  }
}

function readDraft() {
  try {
    return JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null");
  } catch {
    return null;
  }
}

function clearDraft() {
  try {
    sessionStorage.removeItem(DRAFT_KEY);
  } catch {
    // nothing was saved
  }
}

function restoreDraft(form) {
  const draft = readDraft();
  again = draft?.again ? { reason: draft.again, refilled: Object.keys(draft.values || {}).length > 0 } : null;
  if (!draft) return;
  pending = draft.pending || null;
  for (const name of DRAFT_FIELDS) {
    const value = draft.values?.[name];
    if (typeof value !== "string" || !value) continue;
    const el = form.elements[name];
    if (el instanceof RadioNodeList) el.value = value;
    // Options of the domicile lists may not be there yet: fillSelects picks these up.
    else if (el.tagName === "SELECT") el.dataset.want = value;
    else el.value = value;
  }
}

// ---------------------------------------------------------------------------------------------

export function showForm() {
  main.innerHTML = FORM_HTML;
  const form = document.getElementById("signup");
  outcome = null;
  errors.clear();
  setView(
    () => (waiting ? t("titles").wait : errors.any() ? t("titles").formErrors : t("titles").form),
    () => {
      if (!document.getElementById("signup")) return;
      fillSelects(form, t);
      errors.render();
      renderOutcome();
      renderAgain();
      if (!document.getElementById("wait").hidden) renderWaiting();
      renderSending();
    },
  );
  restoreDraft(form);
  setLanguage(currentLang());
  // What to correct is said first (and read out first); the fields to correct are left empty.
  if (again) document.getElementById("again-notice").focus();

  checkWhileTyping(form, { errors, validate, t });
  form.addEventListener("input", () => saveDraft(form));
  form.addEventListener("change", () => saveDraft(form));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (document.getElementById("submit").disabled) return;
    if (!validate(form, FIELDS)) {
      errors.render(true);
      return;
    }
    await submit(form, answersOf(form));
  });
  document.getElementById("wait-stop").addEventListener("click", () => stopWaiting?.());
}

function validate(form, names) {
  const p = answersOf(form);
  const rules = answerChecks(p);
  // The public form needs a way to reach the person.
  const email = () => rules.email() || (!p.email && !p.phone ? "contact_required" : null);
  return errors.check(names, { ...rules, email });
}

// The answer that ended a sending (other than success), shown just above the submit button,
// where the person is looking; `outcome` is redrawn on a language switch.
function renderOutcome(focus = false) {
  const notice = document.getElementById("form-notice");
  const already = document.getElementById("already");
  already.hidden = outcome?.kind !== "already";
  if (outcome?.kind === "already") {
    document.getElementById("already-help").replaceChildren(t("alreadyHelp"), " ", complaintsLine());
  }
  notice.replaceChildren();
  if (outcome?.kind === "notice") {
    notice.append(outcome.text());
    if (outcome.help) notice.append(" ", complaintsLine());
  }
  if (focus) (outcome?.kind === "already" ? already : notice).focus();
}

function renderAgain() {
  const notice = document.getElementById("again-notice");
  const text = !again ? "" : again.refilled ? t("againForm")[again.reason] : t("againFormEmpty");
  if (notice.textContent !== (text || "")) notice.textContent = text || "";
}

function setOutcome(next) {
  outcome = next;
  renderOutcome(next !== null);
}

// Set while a sending waits between tries; the waiting screen's button calls it.
let stopWaiting = null;

async function submit(form, payload) {
  const serialized = JSON.stringify(payload);
  if (!pending || pending.serialized !== serialized) pending = { key: newKey(), serialized };
  saveDraft(form);
  const button = document.getElementById("submit");
  button.disabled = true;
  button.textContent = t("sending");
  setOutcome(null);
  const cancelled = new Promise((resolve) => {
    stopWaiting = resolve;
  });
  const budget = newBudget();
  const onWait = (wait) => showWaiting(wait);
  let proof = null;
  let proofRefusals = 0;
  let result;
  try {
    for (;;) {
      const headers = { "Idempotency-Key": pending.key };
      if (proof) headers["X-Altcha"] = proof;
      const send = () =>
        api("POST", "/api/v1/registrations", { body: payload, headers, lang: currentLang() });
      result = await untilFinal(send, { onWait, cancelled, budget });
      if (result.gaveUp || result.answer.status !== 428) break;
      // The site is busy and asks for a proof of work: solve one unseen and send again. A
      // proof refused more than a few times (expired while waiting, say) ends the sending
      // instead of looping.
      if (proof) proofRefusals += 1;
      if (proofRefusals >= 3) {
        result = { gaveUp: "challenge" };
        break;
      }
      const solved = await obtainProof({ onWait, cancelled, budget });
      if (solved.gaveUp) {
        result = solved;
        break;
      }
      proof = solved.proof;
    }
  } finally {
    stopWaiting = null;
    leaveWaiting();
    button.disabled = false;
    button.textContent = t("submit");
  }
  finish(form, result);
}

// A challenge from the API, solved. The challenge endpoint is retried like the sign-up (it can
// be refused or unreachable too), so a busy endpoint means waiting, never a burst of requests.
// The solver is fetched the first time the API asks for a proof (only under heavy load), at the
// same time as the challenge, so it costs no first load and no extra round trip. A failed fetch
// is tried once more under another address (browsers may remember a failed module import).
let solver = null;

function loadSolver() {
  solver ??= import("./pow.js").catch(() => import("./pow.js?again"));
  solver.catch(() => {
    solver = null;
  });
  return solver;
}

async function obtainProof(options) {
  for (let unsolved = 0; unsolved < 3; unsolved += 1) {
    const loading = loadSolver();
    const fetched = await untilFinal(() => api("GET", "/api/v1/challenge", { lang: currentLang() }), options);
    if (fetched.gaveUp) return fetched;
    if (fetched.answer.status !== 200 || !fetched.answer.json) return { gaveUp: "challenge" };
    const solveChallenge = await loading.then((module) => module.solveChallenge, () => null);
    if (!solveChallenge) return { gaveUp: "challenge" };
    // Solved on the form, where the person pressed the button: its label and a bar under it
    // show how far the search has come (a second or two on a slow phone).
    leaveWaiting();
    solving = 0;
    renderSending();
    const proof = await solveChallenge(fetched.answer.json, (fraction) => {
      solving = fraction;
      renderSending();
    }).catch(() => null);
    solving = null;
    renderSending();
    if (proof) return { proof };
  }
  return { gaveUp: "challenge" };
}

// The send button's label while sending, and the proof of work's progress under it. The
// percentage is in the bar and the label, not in the live region, which speaks once.
let solving = null;

function renderSending() {
  const button = document.getElementById("submit");
  const box = document.getElementById("pow");
  if (!button || !box) return;
  if (button.disabled) {
    const label =
      solving === null ? t("sending") : t("solvingButton")(Math.floor(solving * 100));
    if (button.textContent !== label) button.textContent = label;
  }
  box.hidden = solving === null;
  if (solving === null) return;
  const text = document.getElementById("pow-text");
  if (text.textContent !== t("solvingText")) text.textContent = t("solvingText");
  document.getElementById("pow-progress").value = Math.floor(solving * 100);
}

function finish(form, result) {
  const answer = result.answer;
  const json = answer?.json;
  if (answer?.status === 202 && json && json.registration_id && json.status_token) {
    // Wherever the person is by now (the terms, say), a registration that went through leads
    // to its status page: that link is the only way to it.
    pending = null;
    // What was sent stays in this tab (as the draft did) until the registration is past the
    // checks, so that a rejection that says "register again" can refill the form; status.js
    // drops it then. Nothing of it goes anywhere else.
    try {
      const values = readDraft()?.values || {};
      sessionStorage.setItem(SENT_KEY, JSON.stringify({ id: json.registration_id, values }));
    } catch {
      // storage full or switched off: a rejection then offers an empty form
    }
    again = null;
    clearDraft();
    const sms = form.elements.phone.value.trim() ? "&sms=1" : "";
    history.pushState(
      null,
      "",
      `/status#id=${encodeURIComponent(json.registration_id)}&t=${encodeURIComponent(json.status_token)}${sms}`,
    );
    showStatus(true);
    return;
  }
  if (form !== document.getElementById("signup")) return; // left the form while it was sending
  if (result.gaveUp) {
    const kind = result.gaveUp;
    const tries = result.tries;
    setOutcome({
      kind: "notice",
      text: () => t("gaveUp")[kind](tries),
      help: kind === "server" || kind === "challenge",
    });
    return;
  }
  if (answer.status === 409) {
    // Nothing on the form to fix: its own message, with what to do instead.
    setOutcome({ kind: "already" });
    return;
  }
  if (answer.status === 422 && json && Array.isArray(json.errors) && json.errors.length) {
    errors.clear();
    for (const e of json.errors) {
      if (FIELDS.includes(e.field)) {
        errors.set(e.field, e.code, { code: e.code, text: e.message, lang: currentLang() });
      }
    }
    // Errors about the request itself (e.g. the Idempotency-Key) are not the person's fault:
    // the next press starts a fresh attempt, and the notice says so.
    const general = json.errors.find((e) => !FIELDS.includes(e.field));
    if (general) {
      pending = null;
      saveDraft(form);
      const message = serverMessage({ detail: general.message, errors: [general] });
      setOutcome({ kind: "notice", text: () => localized(message) });
    }
    errors.render(!general);
    return;
  }
  if (answer.status === 413) {
    setOutcome({ kind: "notice", text: () => t("tooLarge") });
    return;
  }
  // Any other answer (a 4xx, or a 2xx without a registration): not retried, and said so.
  setOutcome({ kind: "notice", text: () => t("refused")(answer.status), help: true });
}

// ---------------------------------------------------------------------------------------------
// The waiting screen. It says what happened and when the next try is, once per try: a live
// region rewritten every second would talk over everything else on the page.

let waiting = null;
let progressTimer = null;

// How busy intake is (GET /api/v1/intake: the share of sign-ups refused over the last seconds, at
// the gateway's ceiling and by the API, and the wait that implies). The gateway caches it for a
// second, so every waiting page asking costs the API one request a second. Asked while the page
// waits because the site is busy, again every PACE_EVERY_MS; a failed ask keeps the last figure.
// Outside the live region: it changes silently, the next-try line is what is read out.
const PACE_EVERY_MS = 5000;
let pace = null;
let paceTimer = null;

async function askPace() {
  const answer = await api("GET", "/api/v1/intake", { lang: currentLang() });
  if (answer.status === 200 && typeof answer.json?.estimated_wait_s === "number") {
    pace = answer.json;
    renderEstimate();
  }
}

function followPace() {
  if (paceTimer !== null) return;
  askPace();
  paceTimer = setInterval(askPace, PACE_EVERY_MS);
}

function stopPace() {
  clearInterval(paceTimer);
  paceTimer = null;
  pace = null;
}

// The wait shown: the crowd's (pace) but never less than the time to this page's next try.
function estimatedWaitS(paceWaitS, untilNextTryS) {
  if (!paceWaitS) return null;
  return Math.max(Math.ceil(paceWaitS), Math.ceil(untilNextTryS || 0));
}

function renderEstimate() {
  const line = document.getElementById("wait-estimate");
  if (!line) return;
  const untilNext = waiting?.at ? (waiting.at.getTime() - Date.now()) / 1000 : 0;
  const seconds =
    waiting?.kind === "busy" && pace ? estimatedWaitS(pace.estimated_wait_s, untilNext) : null;
  line.hidden = seconds === null;
  const percent = pace ? Math.round(pace.refused_share * 100) : 0;
  const text = seconds === null ? "" : t("waitEstimate")(seconds, percent);
  if (line.textContent !== text) line.textContent = text;
}

function showWaiting(wait) {
  const screen = document.getElementById("wait");
  if (!screen) return;
  const first = screen.hidden;
  waiting = {
    kind: wait.kind,
    code: wait.answer?.json?.errors?.[0]?.code || null,
    status: wait.answer?.status,
    delayS: wait.delayS,
    since: performance.now(),
    at: wait.delayS === null ? null : new Date(Date.now() + wait.delayS * 1000),
    tries: wait.tries,
    maxTries: wait.maxTries,
  };
  document.getElementById("form-view").hidden = true;
  screen.hidden = false;
  if (waiting.kind === "busy") followPace();
  else stopPace();
  renderWaiting();
  refreshTitle();
  if (first) document.getElementById("wait-title").focus();
  clearInterval(progressTimer);
  const progress = document.getElementById("wait-progress");
  progress.hidden = waiting.delayS === null;
  const tick = () => {
    const elapsed = (performance.now() - waiting.since) / 1000;
    progress.value = Math.min(100, Math.round((elapsed / waiting.delayS) * 100));
  };
  if (waiting.delayS !== null) {
    tick();
    progressTimer = setInterval(tick, 1000);
  }
}

function renderWaiting() {
  if (!waiting) return;
  const locale = currentLang() === "id" ? "id-ID" : "en-GB";
  document.getElementById("wait-title").textContent = t("waitTitle")[waiting.kind];
  const what = t("waitWhat");
  document.getElementById("wait-what").textContent =
    waiting.code === "nik_check_pending"
      ? what.nik_check_pending
      : waiting.kind === "server"
        ? what.server(waiting.status)
        : what[waiting.kind];
  document.getElementById("wait-when").textContent = waiting.at
    ? t("waitWhen")(Math.ceil(waiting.delayS), waiting.at.toLocaleTimeString(locale))
    : "";
  document.getElementById("wait-fair").hidden = waiting.kind !== "busy";
  document.getElementById("wait-tries").textContent = waiting.tries
    ? t("waitTries")(waiting.tries, waiting.maxTries)
    : "";
  renderEstimate();
}

function leaveWaiting() {
  clearInterval(progressTimer);
  stopPace();
  waiting = null;
  const screen = document.getElementById("wait");
  if (!screen || screen.hidden) return;
  screen.hidden = true;
  document.getElementById("form-view").hidden = false;
  refreshTitle();
}
