// The public sign-up page: form, waiting room, status, email-link landing and SMS code entry.
// Plain ES modules, no build step. Server texts are always set with textContent, never as HTML.
import { TEXT } from "./i18n.js";
import {
  checkBirthDate,
  checkEmail,
  checkName,
  checkPhone,
  likelyBirthDate,
  parseNik,
} from "./rules.js";
import { solveChallenge } from "./pow.js";

const main = document.getElementById("main");
const langButton = document.getElementById("lang-switch");

let lang = localStorage.getItem("gelombang.lang") === "en" ? "en" : "id";
let rerender = () => {};
const t = (key) => TEXT[lang][key];

function setLanguage(next) {
  lang = next;
  localStorage.setItem("gelombang.lang", lang);
  document.documentElement.lang = lang;
  langButton.textContent = t("switchTo");
  langButton.setAttribute("lang", lang === "id" ? "en" : "id");
  langButton.setAttribute("aria-label", t("switchLabel"));
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-t]")) {
    const value = TEXT[lang][el.dataset.t];
    if (typeof value === "string") el.textContent = value;
  }
  rerender();
}
langButton.addEventListener("click", () => setLanguage(lang === "id" ? "en" : "id"));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function api(method, path, { body, headers = {} } = {}) {
  const response = await fetch(path, {
    method,
    headers: {
      Accept: "application/json",
      "Accept-Language": lang,
      ...(body ? { "Content-Type": "application/json" } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
    credentials: "omit",
    cache: "no-store",
  });
  let json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  const retryAfter = Number(response.headers.get("Retry-After"));
  return {
    status: response.status,
    json,
    retryAfterS: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : 5,
  };
}

const BUSY = new Set([429, 502, 503, 504]);

// ---------------------------------------------------------------------------------------------
// Regions (generated from the API's own table into data/regions.json)

let regionsPromise = null;
function loadRegions() {
  regionsPromise ??= fetch("/data/regions.json")
    .then((r) => r.json())
    .then((data) => ({
      provinces: data.provinces,
      provinceNames: new Map(data.provinces.map(([code, name]) => [code, name])),
      regencyNames: new Map(data.provinces.flatMap(([, , regs]) => regs)),
      formerNikRegencies: new Set(data.former_nik_regencies),
    }));
  return regionsPromise;
}

// ---------------------------------------------------------------------------------------------
// The form

const FORM_HTML = `
<h1 data-t="title"></h1>
<p data-t="intro"></p>
<div id="summary" class="summary" tabindex="-1" hidden>
  <h2 data-t="errorSummary"></h2><ul id="summary-list"></ul>
</div>
<p id="form-notice" class="notice bad" role="alert" hidden></p>
<form id="signup" novalidate>
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
        aria-describedby="email-error">
      <p class="error" id="email-error"></p>
    </div>
    <div class="field">
      <label for="phone" data-t="phone"></label>
      <p class="hint" id="phone-hint" data-t="phoneHint"></p>
      <input type="tel" id="phone" name="phone" autocomplete="tel" inputmode="tel"
        aria-describedby="phone-hint phone-error">
      <p class="error" id="phone-error"></p>
    </div>
  </fieldset>
  <div class="field">
    <label for="province_code" data-t="province"></label>
    <p class="hint" id="domicile-hint" data-t="domicileHint"></p>
    <select id="province_code" name="province_code" aria-describedby="domicile-hint province_code-error" required></select>
    <p class="error" id="province_code-error"></p>
  </div>
  <div class="field">
    <label for="regency_code" data-t="regency"></label>
    <select id="regency_code" name="regency_code" aria-describedby="regency_code-error" required></select>
    <p class="error" id="regency_code-error"></p>
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
      aria-describedby="consent-error"><span data-t="consent"></span></label>
    <p class="error" id="consent-error"></p>
  </div>
  <button type="submit" class="primary" id="submit" data-t="submit"></button>
</form>
<section id="queue" hidden aria-labelledby="queue-title">
  <h1 id="queue-title" tabindex="-1" data-t="queueTitle"></h1>
  <p data-t="queueText"></p>
  <p id="queue-estimate" role="status" aria-live="polite"></p>
  <progress id="queue-progress" max="100" value="0"></progress>
  <p id="queue-next" aria-hidden="true"></p>
  <p id="queue-attempts" class="hint"></p>
  <p class="hint" data-t="queueSafe"></p>
</section>`;

const FIELDS = [
  "nik", "full_name", "birth_date", "email", "phone", "province_code", "regency_code",
  "employment_status", "in_formal_education", "receives_social_aid", "consent",
];

// One sign-up attempt: the same key for every retry of the same data, so a retry after a
// lost answer or a waiting-room pass can never register twice.
let pending = null;
let fieldErrors = {};

async function showForm() {
  main.innerHTML = FORM_HTML;
  const regions = await loadRegions();
  const form = document.getElementById("signup");
  fillSelects(regions);
  rerender = () => {
    fillSelects(regions);
    renderErrors();
  };
  setLanguage(lang);

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
  });
  form.elements.province_code.addEventListener("change", () => fillRegencies(regions));
  for (const name of ["full_name", "birth_date", "email", "phone"]) {
    form.elements[name].addEventListener("change", () => {
      validate(form, regions, [name]);
      renderErrors();
    });
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!validate(form, regions, FIELDS)) {
      renderErrors(true);
      return;
    }
    await submit(form, payloadOf(form));
  });
}

function fillSelects(regions) {
  const province = document.getElementById("province_code");
  const chosen = province.value;
  province.replaceChildren(option("", t("choose")));
  for (const [code, name] of regions.provinces) province.append(option(code, name));
  province.value = chosen;
  fillRegencies(regions);
  const employment = document.getElementById("employment_status");
  const job = employment.value;
  employment.replaceChildren(option("", t("choose")));
  for (const [code, name] of Object.entries(t("employmentOptions"))) {
    employment.append(option(code, name));
  }
  employment.value = job;
}

function fillRegencies(regions) {
  const province = document.getElementById("province_code").value;
  const regency = document.getElementById("regency_code");
  const chosen = regency.value;
  const entry = regions.provinces.find(([code]) => code === province);
  regency.replaceChildren(option("", entry ? t("choose") : t("chooseProvinceFirst")));
  for (const [code, name] of entry ? entry[2] : []) regency.append(option(code, name));
  regency.value = chosen.startsWith(province) ? chosen : "";
}

function option(value, label) {
  const el = document.createElement("option");
  el.value = value;
  el.textContent = label;
  return el;
}

function radio(form, name) {
  const checked = form.querySelector(`input[name="${name}"]:checked`);
  return checked ? checked.value === "true" : null;
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

function setError(field, code, serverText) {
  if (code) fieldErrors[field] = { code, serverText };
  else delete fieldErrors[field];
}

function validate(form, regions, names) {
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
    // The server's text wins when it sent one: it is the authority and already localized.
    const text = error ? error.serverText || t("errors")[error.code] || error.code : "";
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
  if (focusSummary && !summary.hidden) summary.focus();
}

function showNotice(text) {
  const notice = document.getElementById("form-notice");
  notice.textContent = text;
  notice.hidden = !text;
}

async function submit(form, payload) {
  const serialized = JSON.stringify(payload);
  if (!pending || pending.serialized !== serialized) pending = { key: newKey(), serialized };
  const button = document.getElementById("submit");
  button.disabled = true;
  button.textContent = t("sending");
  showNotice("");
  let attempt = 0;
  try {
    for (;;) {
      attempt += 1;
      let answer;
      try {
        const headers = { "Idempotency-Key": pending.key };
        if (pending.proof) headers["X-Altcha"] = pending.proof;
        answer = await api("POST", "/api/v1/registrations", { body: payload, headers });
      } catch {
        answer = { status: 0, json: null, retryAfterS: 5 };
      }
      if (answer.status === 428 && attempt < 50) {
        // The site is busy and asks for a proof of work: solve it here, without bothering
        // the person, then send the same sign-up again.
        pending.proof = await proofOfWork();
        continue;
      }
      if (answer.status === 202) {
        const { registration_id: id, status_token: token } = answer.json;
        pending = null;
        const sms = payload.phone ? "&sms=1" : "";
        history.pushState(null, "", `/status#id=${id}&t=${encodeURIComponent(token)}${sms}`);
        showStatus(true);
        return;
      }
      if (answer.status === 0 || BUSY.has(answer.status)) {
        await waitInQueue(answer.retryAfterS, attempt);
        continue;
      }
      leaveQueue();
      if (answer.status === 422 && answer.json && answer.json.errors.length) {
        fieldErrors = {};
        for (const e of answer.json.errors) {
          if (FIELDS.includes(e.field)) setError(e.field, e.code, e.message);
        }
        // Errors about the request itself (e.g. the Idempotency-Key) are not the person's
        // fault: start a fresh attempt next time and say so in general terms.
        const general = answer.json.errors.filter((e) => !FIELDS.includes(e.field));
        if (general.length) {
          pending = null;
          showNotice(general.map((e) => e.message).join(" "));
        }
        renderErrors(true);
        return;
      }
      if (answer.status === 409) {
        setError("nik", "nik_already_registered", answer.json && answer.json.detail);
        renderErrors(true);
        return;
      }
      showNotice((answer.json && answer.json.detail) || t("networkError"));
      return;
    }
  } finally {
    button.disabled = false;
    button.textContent = t("submit");
  }
}

// The waiting room. The estimate shown is the server's Retry-After, not a made-up number;
// the actual retry lands at a random point up to 30% after it (never before: that would only
// earn another refusal), so a crowd turned away in the same second does not come back in the
// same second.
async function waitInQueue(retryAfterS, attempt) {
  const form = document.getElementById("signup");
  const queue = document.getElementById("queue");
  const wasHidden = queue.hidden;
  form.hidden = true;
  document.getElementById("summary").hidden = true;
  queue.hidden = false;
  const estimate = document.getElementById("queue-estimate");
  const next = document.getElementById("queue-next");
  const progress = document.getElementById("queue-progress");
  const waitS = Math.max(1, retryAfterS * (1 + Math.random() * 0.3));
  const render = (left) => {
    estimate.textContent = TEXT[lang].queueEstimate(Math.ceil(retryAfterS));
    next.textContent = TEXT[lang].queueNext(Math.max(0, Math.ceil(left)));
    document.getElementById("queue-attempts").textContent = TEXT[lang].queueAttempts(attempt);
  };
  rerender = () => render(waitS);
  if (wasHidden) document.getElementById("queue-title").focus();
  const started = performance.now();
  for (;;) {
    const elapsed = (performance.now() - started) / 1000;
    if (elapsed >= waitS) break;
    render(waitS - elapsed);
    progress.value = Math.round((elapsed / waitS) * 100);
    await sleep(Math.min(1000, (waitS - elapsed) * 1000));
  }
  progress.value = 100;
  next.textContent = TEXT[lang].queueTrying;
}

async function proofOfWork() {
  try {
    const answer = await api("GET", "/api/v1/challenge");
    return answer.status === 200 ? await solveChallenge(answer.json) : null;
  } catch {
    return null;
  }
}

function leaveQueue() {
  const queue = document.getElementById("queue");
  if (!queue || queue.hidden) return;
  queue.hidden = true;
  document.getElementById("signup").hidden = false;
  rerender = () => renderErrors();
}

// ---------------------------------------------------------------------------------------------
// Status page. The token lives in the fragment: browsers never send it to a server, so it stays
// out of every access log and Referer header.

const ORDER = [
  "submitted", "contact_pending", "contact_confirmed", "nik_verified", "verified",
  "waitlisted", "selected", "revoked",
];
const STEP_AT = { submitted: 0, contact: 1, nik: 3, verified: 4, wave: 5 };
const FAILED_STEP = {
  contact_expired: "contact",
  contact_undeliverable: "contact",
  nik_not_found: "nik",
  nik_data_mismatch: "nik",
  duplicate: "submitted",
};

function fragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { id: params.get("id"), token: params.get("t"), sms: params.get("sms") === "1" };
}

let statusTimer = null;

function showStatus(justSubmitted = false) {
  const { id, token, sms } = fragment();
  main.innerHTML = `
    <h1 id="status-title" tabindex="-1" data-t="statusTitle"></h1>
    <p id="status-save" class="notice" data-t="saveLink"></p>
    <p id="status-nik" class="hint"></p>
    <p id="status-text" role="status" aria-live="polite"></p>
    <ol id="steps" class="steps"></ol>
    <section id="otp" hidden></section>
    <p id="status-updated" class="hint"></p>
    <p><a href="/" data-t="newRegistration"></a></p>`;
  document.getElementById("status-title").focus();
  if (!id || !token) {
    setLanguage(lang);
    document.getElementById("status-text").textContent = t("statusNotFound");
    return;
  }
  let last = null;
  let misses = 0;
  let otpShown = false;
  const render = () => {
    const status = last ? last.status : "submitted";
    const rejected = last && last.status === "rejected";
    const reasonEntry = rejected ? [...last.history].reverse().find((h) => h.reason) : null;
    const contact = last && last.contact;
    const contactOpen = contact && !rejected && ["pending", "sent"].includes(contact.state);
    const textEl = document.getElementById("status-text");
    if (!last) textEl.textContent = misses > 20 ? t("statusNotFound") : t("notYet");
    else if (rejected) {
      textEl.textContent = `${t("statusText").rejected} ${reasonEntry?.message || ""}`.trim();
    } else if (contactOpen) {
      const by = new Date(contact.confirm_by).toLocaleString(lang === "id" ? "id-ID" : "en-GB");
      const todo = TEXT[lang].contactTodo[contact.method];
      const text = todo ? todo(contact.hint, by) : t("statusText")[status];
      if (textEl.textContent !== text) textEl.textContent = text;
    } else textEl.textContent = t("statusText")[status] || status;
    textEl.className = rejected ? "notice bad" : status === "selected" ? "notice good" : "";
    document.getElementById("status-nik").textContent = last
      ? TEXT[lang].nikLast4(last.nik_last4)
      : "";
    const reached = rejected
      ? Math.max(0, ...last.history.map((h) => ORDER.indexOf(h.status)))
      : ORDER.indexOf(status);
    const failed = rejected ? FAILED_STEP[reasonEntry?.reason] || "nik" : null;
    const steps = document.getElementById("steps");
    steps.replaceChildren();
    for (const [step, at] of Object.entries(STEP_AT)) {
      let state = reached >= at && !(step === "contact" && reached === 1) ? "done" : "todo";
      if (!rejected && state === "todo" && (reached + 1 === at || (step === "contact" && reached <= 1))) {
        state = "current";
      }
      if (step === "wave" && reached === 4 && !rejected) state = "current";
      if (step === "contact" && contact && !rejected) {
        state = contact.state === "confirmed" ? "done" : "current";
      }
      if (failed === step) state = "failed";
      const li = document.createElement("li");
      li.className = state;
      li.dataset.step = step;
      const label = document.createElement("span");
      label.textContent = t("steps")[step];
      const note = document.createElement("span");
      note.className = "state";
      note.textContent = ` (${state === "failed" ? t("statusText").rejected : t("stepState")[state]})`;
      li.append(label, note);
      steps.append(li);
    }
    // The code box stays until the contact is confirmed, even when the NIK check is done first.
    const wantsOtp = contact
      ? contactOpen && contact.method === "sms"
      : sms && (!last || ["submitted", "contact_pending"].includes(status));
    if (wantsOtp && !otpShown) {
      otpShown = true;
      renderOtp(document.getElementById("otp"), id, token, () => poll(0));
    }
    document.getElementById("otp").hidden = !wantsOtp;
  };
  const poll = async (delayMs) => {
    clearTimeout(statusTimer);
    statusTimer = setTimeout(async () => {
      let next = 3000;
      try {
        const answer = await api("GET", `/api/v1/registrations/${encodeURIComponent(id)}`, {
          headers: { "X-Status-Token": token },
        });
        if (answer.status === 200) last = answer.json;
        else if (answer.status === 404) misses += 1;
        else if (BUSY.has(answer.status)) next = answer.retryAfterS * 1000 * (1 + Math.random());
        document.getElementById("status-updated").textContent = TEXT[lang].refreshed(
          new Date().toLocaleTimeString(lang === "id" ? "id-ID" : "en-GB"),
        );
      } catch {
        next = 5000 + Math.random() * 5000;
      }
      if (!document.getElementById("steps")) return;
      render();
      const status = last ? last.status : "submitted";
      if (["rejected", "selected", "revoked"].includes(status)) return;
      if (!last && misses > 20 && !justSubmitted) return;
      // Waiting for a weekly draw: no need to ask every few seconds.
      if (["verified", "waitlisted"].includes(status)) next = 60000;
      poll(next);
    }, delayMs);
  };
  rerender = render;
  setLanguage(lang);
  poll(0);
}

// ---------------------------------------------------------------------------------------------
// SMS code entry (inside the status page, and alone at /kode#id=…&t=…)

function renderOtp(section, id, token, onConfirmed) {
  section.innerHTML = `
    <h2 data-t="otpTitle"></h2>
    <form id="otp-form" novalidate>
      <div class="field">
        <label for="code" data-t="otpLabel"></label>
        <input type="text" id="code" class="code-input" inputmode="numeric"
          autocomplete="one-time-code" aria-describedby="code-error">
        <p class="error" id="code-error" role="alert"></p>
      </div>
      <button type="submit" class="primary" data-t="otpSubmit"></button>
    </form>
    <p><button type="button" class="secondary" id="otp-resend" data-t="otpResend"></button></p>
    <p id="otp-notice" role="status" aria-live="polite"></p>`;
  setLanguage(lang);
  const input = section.querySelector("#code");
  // No maxlength: it would cut "935 977" to "935 97" before the space is dropped.
  input.addEventListener("input", () => {
    input.value = input.value.replace(/[^0-9]/g, "").slice(0, 6);
  });
  const error = section.querySelector("#code-error");
  const notice = section.querySelector("#otp-notice");
  section.querySelector("#otp-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = input.value.replace(/[^0-9]/g, "");
    error.textContent = "";
    input.setAttribute("aria-invalid", "false");
    if (code.length !== 6) {
      error.textContent = t("errors").otp_format;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    const answer = await api("POST", "/api/v1/contact/otp/verify", {
      body: { registration_id: id, code },
      headers: { "X-Status-Token": token },
    }).catch(() => ({ status: 0, json: null }));
    if (answer.status === 200) {
      notice.textContent = t("otpOk");
      notice.className = "notice good";
      onConfirmed();
      return;
    }
    error.textContent = (answer.json && answer.json.detail) || t("networkError");
    input.setAttribute("aria-invalid", "true");
    input.focus();
  });
  section.querySelector("#otp-resend").addEventListener("click", async () => {
    const answer = await api("POST", "/api/v1/contact/otp/resend", {
      body: { registration_id: id },
      headers: { "X-Status-Token": token },
    }).catch(() => ({ status: 0, json: null }));
    notice.className = answer.status === 202 ? "notice" : "notice bad";
    notice.textContent = (answer.json && answer.json.detail) || t("networkError");
  });
}

function showOtpPage() {
  const { id, token } = fragment();
  main.innerHTML = `<section id="otp"></section>
    <p><a id="to-status" data-t="statusTitle"></a></p>`;
  document.getElementById("to-status").href = `/status${location.hash}`;
  renderOtp(document.getElementById("otp"), id, token, () => {});
  document.getElementById("code").focus();
}

// ---------------------------------------------------------------------------------------------
// Email-link landing. The gateway serves this page for browsers opening the link; the
// confirmation itself needs this script to run, so mail scanners that pre-open links confirm
// nothing on the person's behalf.

async function showConfirm() {
  const token = new URLSearchParams(location.search).get("token");
  main.innerHTML = `
    <h1 id="confirm-title" tabindex="-1" data-t="confirmTitle"></h1>
    <p id="confirm-text" role="status" aria-live="polite"></p>`;
  setLanguage(lang);
  const text = document.getElementById("confirm-text");
  // A reload after the link did its job (the token is gone from the address by then) shows
  // the same answer again instead of "the link is incomplete".
  const earlier = JSON.parse(sessionStorage.getItem("gelombang.confirmed") || "null");
  if (!token && earlier) return showConfirmed(earlier.status, earlier.json);
  if (!token) {
    text.textContent = t("confirmMissing");
    text.className = "notice bad";
    return;
  }
  text.textContent = t("confirming");
  let answer;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    answer = await api("GET", `/api/v1/contact/verify?token=${encodeURIComponent(token)}`).catch(
      () => ({ status: 0, json: null, retryAfterS: 5 }),
    );
    if (answer.status !== 0 && !BUSY.has(answer.status)) break;
    await sleep(answer.retryAfterS * 1000 * (1 + Math.random() * 0.3));
  }
  // The token has done its job; keep it out of the browser history from now on.
  history.replaceState(null, "", location.pathname);
  if (answer.status === 200) {
    sessionStorage.setItem(
      "gelombang.confirmed",
      JSON.stringify({ status: answer.status, json: answer.json }),
    );
  }
  showConfirmed(answer.status, answer.json);
}

function showConfirmed(status, json) {
  const text = document.getElementById("confirm-text");
  text.textContent = (json && json.detail) || t("networkError");
  text.className = status === 200 ? "notice good" : "notice bad";
  if (json && typeof json.status_page === "string" && json.status_page.startsWith("/status#")) {
    const p = document.createElement("p");
    const link = document.createElement("a");
    link.id = "to-status";
    link.href = json.status_page;
    link.dataset.t = "statusTitle";
    link.textContent = t("statusTitle");
    p.append(link);
    main.append(p);
  }
  rerender = () => {};
}

// ---------------------------------------------------------------------------------------------

function route() {
  clearTimeout(statusTimer);
  const path = location.pathname;
  if (path === "/api/v1/contact/verify" || path === "/konfirmasi") return showConfirm();
  if (path === "/status") return showStatus();
  if (path === "/kode") return showOtpPage();
  return showForm();
}

window.addEventListener("popstate", route);
window.addEventListener("hashchange", () => {
  if (location.pathname === "/status") showStatus();
});
route();
