// The sign-up form: what the person types, the checks before sending, sending until there is a
// final answer (the waiting screen while the site is busy or the connection is gone), and the
// answers that are not a success.
import {
  checkBirthDate,
  checkEmail,
  checkName,
  checkPhone,
  likelyBirthDate,
  parseNik,
} from "./rules.js";
import { api, newBudget, pause, retryDelayS, untilFinal, whenOnline } from "./net.js";
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
import { SENT_KEY, showStatus } from "./status.js";

// ---------------------------------------------------------------------------------------------
// Regions (generated from the API's own table into data/regions.json)

// Tries before the page says the list could not be loaded (about a minute with the backoff).
const REGION_TRIES = 6;
let regions = null;
let regionsPromise = null;

function indexRegions(data) {
  return {
    provinces: data.provinces,
    provinceNames: new Map(data.provinces.map(([code, name]) => [code, name])),
    regencyNames: new Map(data.provinces.flatMap(([, , regs]) => regs)),
    formerNikRegencies: new Set(data.former_nik_regencies),
  };
}

// The list is the page's biggest file and a cheap phone on a busy day may drop it: it is
// preloaded by index.html, retried with backoff, and nothing else waits for it.
function loadRegions() {
  regionsPromise ??= (async () => {
    for (let failures = 1; ; failures += 1) {
      if (navigator.onLine === false) await whenOnline();
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 20_000);
      try {
        // Default mode and credentials, to match index.html's <link rel=preload crossorigin>.
        const response = await fetch("/data/regions.json", { signal: abort.signal });
        if (response.ok) return (regions = indexRegions(await response.json()));
      } catch {
        // dropped, timed out, or not JSON: retried below like any other failure
      } finally {
        clearTimeout(timer);
      }
      if (failures >= REGION_TRIES) {
        regionsPromise = null; // the retry button starts over
        throw new Error("regions not loaded");
      }
      await pause(retryDelayS("network", failures, null) * 1000, { wakeOnOnline: true });
    }
  })();
  return regionsPromise;
}

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
<div id="summary" class="summary" tabindex="-1" role="group" aria-labelledby="summary-title" hidden>
  <h2 id="summary-title" data-t="errorSummary"></h2><ul id="summary-list"></ul>
</div>
<form id="signup" method="post" novalidate>
  <div class="field">
    <label for="nik" data-t="nik"></label>
    <p class="hint" id="nik-hint" data-t="nikHint"></p>
    <input type="text" id="nik" name="nik" inputmode="numeric" autocomplete="off"
      aria-describedby="nik-hint nik-error" required>
    <p class="error" id="nik-error"></p>
  </div>
  <div class="field">
    <label for="full_name" data-t="fullName"></label>
    <input type="text" id="full_name" name="full_name" autocomplete="name" maxlength="100"
      aria-describedby="full_name-error" required>
    <p class="error" id="full_name-error"></p>
  </div>
  <div class="field">
    <label for="birth_date" data-t="birthDate"></label>
    <p class="hint" id="birth_date-hint" data-t="birthDateHint"></p>
    <input type="date" id="birth_date" name="birth_date" autocomplete="bday"
      aria-describedby="birth_date-hint birth_date-error" required>
    <p class="error" id="birth_date-error"></p>
  </div>
  <fieldset aria-describedby="contact-hint">
    <legend data-t="contactLegend"></legend>
    <p class="hint" id="contact-hint" data-t="contactHint"></p>
    <div class="field">
      <label for="email" data-t="email"></label>
      <input type="email" id="email" name="email" autocomplete="email" inputmode="email"
        maxlength="254" aria-describedby="email-error">
      <p class="error" id="email-error"></p>
    </div>
    <div class="field">
      <label for="phone" data-t="phone"></label>
      <p class="hint" id="phone-hint" data-t="phoneHint"></p>
      <input type="tel" id="phone" name="phone" autocomplete="tel" inputmode="tel"
        maxlength="24" aria-describedby="phone-hint phone-error">
      <p class="error" id="phone-error"></p>
    </div>
  </fieldset>
  <div class="field">
    <label for="province_code" data-t="province"></label>
    <p class="hint" id="domicile-hint" data-t="domicileHint"></p>
    <select id="province_code" name="province_code" aria-describedby="domicile-hint province_code-error regions-error" required></select>
    <p class="error" id="province_code-error"></p>
  </div>
  <div class="field">
    <label for="regency_code" data-t="regency"></label>
    <select id="regency_code" name="regency_code" aria-describedby="regency_code-error" required></select>
    <p class="error" id="regency_code-error"></p>
    <div id="regions-error" class="notice bad" hidden>
      <p data-t="regionsFailed"></p>
      <button type="button" class="secondary" id="regions-retry" data-t="regionsRetry"></button>
    </div>
  </div>
  <div class="field">
    <label for="employment_status" data-t="employment"></label>
    <select id="employment_status" name="employment_status" aria-describedby="employment_status-error" required></select>
    <p class="error" id="employment_status-error"></p>
  </div>
  <fieldset id="in_formal_education" aria-describedby="in_formal_education-error">
    <legend data-t="education"></legend>
    <div class="inline">
      <label class="choice"><input type="radio" name="in_formal_education" value="true"><span data-t="yes"></span></label>
      <label class="choice"><input type="radio" name="in_formal_education" value="false"><span data-t="no"></span></label>
    </div>
    <p class="error" id="in_formal_education-error"></p>
  </fieldset>
  <fieldset id="receives_social_aid" aria-describedby="receives_social_aid-error">
    <legend data-t="socialAid"></legend>
    <div class="inline">
      <label class="choice"><input type="radio" name="receives_social_aid" value="true"><span data-t="yes"></span></label>
      <label class="choice"><input type="radio" name="receives_social_aid" value="false"><span data-t="no"></span></label>
    </div>
    <p class="error" id="receives_social_aid-error"></p>
  </fieldset>
  <div class="field">
    <label class="choice"><input type="checkbox" id="consent" name="consent"
      aria-describedby="consent-hint consent-error"><span data-t="consent"></span></label>
    <p class="hint" id="consent-hint"><span data-t="consentPurpose"></span>
      <a href="/syarat" data-t="termsLink"></a></p>
    <p class="error" id="consent-error"></p>
  </div>
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
let fieldErrors = {};
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
  fieldErrors = {};
  setView(
    () =>
      waiting
        ? t("titles").wait
        : Object.keys(fieldErrors).length
          ? t("titles").formErrors
          : t("titles").form,
    () => {
      if (!document.getElementById("signup")) return;
      fillSelects();
      renderErrors();
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

  const nik = form.elements.nik;
  nik.addEventListener("input", () => {
    nik.value = nik.value.replace(/[^0-9]/g, "").slice(0, 16);
  });
  nik.addEventListener("change", () => {
    const parsed = parseNik(nik.value, regions);
    setError("nik", nik.value ? parsed.error || null : null);
    const birth = form.elements.birth_date;
    if (!parsed.error && !birth.value) birth.value = likelyBirthDate(parsed);
    renderErrors();
    saveDraft(form);
  });
  form.elements.province_code.addEventListener("change", () => fillRegencies());
  for (const name of ["full_name", "birth_date", "email", "phone"]) {
    form.elements[name].addEventListener("change", () => {
      validate(form, [name]);
      renderErrors();
    });
  }
  form.addEventListener("input", () => saveDraft(form));
  form.addEventListener("change", () => saveDraft(form));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (document.getElementById("submit").disabled) return;
    if (!validate(form, FIELDS)) {
      renderErrors(true);
      return;
    }
    await submit(form, payloadOf(form));
  });
  document.getElementById("wait-stop").addEventListener("click", () => stopWaiting?.());
  document.getElementById("regions-retry").addEventListener("click", () => fetchRegions(form));
  fetchRegions(form);
}

function fetchRegions(form) {
  document.getElementById("regions-error").hidden = true;
  loadRegions().then(
    () => {
      if (form !== document.getElementById("signup")) return;
      fillSelects();
      // A NIK typed before the list arrived gets its region check now.
      if (form.elements.nik.value) {
        validate(form, ["nik"]);
        renderErrors();
      }
    },
    () => {
      if (form === document.getElementById("signup")) {
        document.getElementById("regions-error").hidden = false;
      }
    },
  );
}

function fillSelects() {
  const province = document.getElementById("province_code");
  const chosen = province.value || province.dataset.want || "";
  if (!regions) {
    province.replaceChildren(option("", t("regionsLoading")));
  } else {
    province.replaceChildren(option("", t("choose")));
    for (const [code, name] of regions.provinces) province.append(option(code, name));
    province.value = chosen;
    delete province.dataset.want;
  }
  fillRegencies();
  const employment = document.getElementById("employment_status");
  const job = employment.value || employment.dataset.want || "";
  employment.replaceChildren(option("", t("choose")));
  for (const [code, name] of Object.entries(t("employmentOptions"))) {
    employment.append(option(code, name));
  }
  employment.value = job;
  delete employment.dataset.want;
}

function fillRegencies() {
  const province = document.getElementById("province_code").value;
  const regency = document.getElementById("regency_code");
  const chosen = regency.value || regency.dataset.want || "";
  const entry = regions && regions.provinces.find(([code]) => code === province);
  regency.replaceChildren(option("", entry ? t("choose") : t("chooseProvinceFirst")));
  for (const [code, name] of entry ? entry[2] : []) regency.append(option(code, name));
  regency.value = chosen.startsWith(province) ? chosen : "";
  if (regions) delete regency.dataset.want;
}

function option(value, label) {
  const el = document.createElement("option");
  el.value = value;
  el.textContent = label;
  return el;
}

function radio(form, name) {
  const value = form.elements[name].value;
  return value ? value === "true" : null;
}

function payloadOf(form) {
  const v = (name) => form.elements[name].value.trim();
  return {
    nik: v("nik"),
    full_name: v("full_name"),
    birth_date: v("birth_date"),
    email: v("email") || null,
    phone: v("phone") || null,
    province_code: v("province_code"),
    regency_code: v("regency_code"),
    employment_status: v("employment_status"),
    in_formal_education: radio(form, "in_formal_education"),
    receives_social_aid: radio(form, "receives_social_aid"),
    consent: form.elements.consent.checked,
  };
}

// `server` is the API's message for this field, kept with its language (see page.localized).
function setError(field, code, server = null) {
  if (code) fieldErrors[field] = { code, server };
  else delete fieldErrors[field];
}

function validate(form, names) {
  const p = payloadOf(form);
  const nik = parseNik(p.nik, regions);
  const rules = {
    nik: () => (p.nik ? nik.error || null : "missing"),
    full_name: () => checkName(p.full_name),
    birth_date: () => checkBirthDate(p.birth_date, nik.error ? null : nik),
    email: () => checkEmail(p.email || "") || (!p.email && !p.phone ? "contact_required" : null),
    phone: () => checkPhone(p.phone || ""),
    province_code: () => (p.province_code ? null : "missing"),
    regency_code: () => (p.regency_code ? null : "missing"),
    employment_status: () => (p.employment_status ? null : "missing"),
    in_formal_education: () =>
      p.in_formal_education === null
        ? "missing"
        : p.in_formal_education
          ? "in_formal_education"
          : null,
    receives_social_aid: () => (p.receives_social_aid === null ? "missing" : null),
    consent: () => (p.consent ? null : "consent_required"),
  };
  let ok = true;
  for (const name of names) {
    const code = rules[name]();
    setError(name, code);
    if (code) ok = false;
  }
  return ok;
}

function renderErrors(focusSummary = false) {
  const summary = document.getElementById("summary");
  if (!summary) return;
  const list = document.getElementById("summary-list");
  list.replaceChildren();
  for (const name of FIELDS) {
    const el = document.getElementById(`${name}-error`);
    const control = document.getElementById(name);
    const error = fieldErrors[name];
    const text = error
      ? error.server
        ? localized(error.server)
        : t("errors")[error.code] || t("errors").unknown
      : "";
    el.textContent = text;
    if (control) control.setAttribute("aria-invalid", error ? "true" : "false");
    if (error) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `#${name}`;
      // "Required." alone says nothing in a list: name the field it belongs to.
      const label = control.matches("fieldset")
        ? control.querySelector("legend")
        : document.querySelector(`label[for="${name}"]`);
      link.textContent = label && name !== "consent" ? `${label.textContent}: ${text}` : text;
      link.addEventListener("click", (e) => {
        e.preventDefault();
        const target = control.matches("fieldset") ? control.querySelector("input") : control;
        target.focus();
      });
      item.append(link);
      list.append(item);
    }
  }
  summary.hidden = list.children.length === 0;
  refreshTitle();
  if (focusSummary && !summary.hidden) summary.focus();
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

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
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
    fieldErrors = {};
    for (const e of json.errors) {
      if (FIELDS.includes(e.field)) {
        setError(e.field, e.code, { code: e.code, text: e.message, lang: currentLang() });
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
    renderErrors(!general);
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
}

function leaveWaiting() {
  clearInterval(progressTimer);
  waiting = null;
  const screen = document.getElementById("wait");
  if (!screen || screen.hidden) return;
  screen.hidden = true;
  document.getElementById("form-view").hidden = false;
  refreshTitle();
}
