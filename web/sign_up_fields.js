// What the public sign-up form and the posko's walk-in form share besides their errors
// (form_errors.js): the fields they ask in the same words and their checks, the region list,
// the answers read as the API's body, and the key that makes retries of one attempt one
// sign-up. `t` is the page's texts.
import { REQUEST_TIMEOUT_MS, pause, retryDelayS, whenOnline } from "./net.js";
import {
  checkBirthDate,
  checkEmail,
  checkName,
  checkPhone,
  likelyBirthDate,
  parseNik,
} from "./rules.js";

// data/regions.json, indexed for rules.js (null until it is there). The page's biggest file: a
// cheap phone on a busy day may drop it, so it is retried for about a minute and nothing waits
// for it (the API checks the region prefix in any case).
const REGION_TRIES = 6;
export let regions = null;
let regionsLoading = null;

function indexRegions(data) {
  return {
    provinces: data.provinces,
    provinceNames: new Map(data.provinces.map(([code, name]) => [code, name])),
    regencyNames: new Map(data.provinces.flatMap(([, , regs]) => regs)),
    formerNikRegencies: new Set(data.former_nik_regencies),
  };
}

export function loadRegions() {
  regionsLoading ??= (async () => {
    for (let failures = 1; ; failures += 1) {
      // Tried even offline: the posko's service worker may answer.
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
      try {
        // Default mode and credentials, as the <link rel=preload crossorigin>.
        const response = await fetch("/data/regions.json", { signal: abort.signal });
        if (response.ok) return (regions = indexRegions(await response.json()));
      } catch {
        // dropped, timed out or not JSON: retried below
      } finally {
        clearTimeout(timer);
      }
      if (navigator.onLine === false) {
        failures -= 1; // not counted: waits for the connection
        await whenOnline();
        continue;
      }
      if (failures >= REGION_TRIES) {
        regionsLoading = null; // the retry button starts over
        throw new Error("regions not loaded");
      }
      await pause(retryDelayS("network", failures, null) * 1000, { wakeOnOnline: true });
    }
  })();
  return regionsLoading;
}

// The NIK box of every form that asks for one.
export const NIK_INPUT = 'type="text" inputmode="numeric" autocomplete="off" required';

// A typed field: label, hint (a text key, if any), input and the line for its error, both of
// which a screen reader reads with the input.
export function inputHtml(id, label, attributes, hint = null, name = id) {
  const hintHtml = hint ? `\n  <p class="hint" id="${id}-hint" data-t="${hint}"></p>` : "";
  return `<div class="field">
  <label for="${id}" data-t="${label}"></label>${hintHtml}
  <input id="${id}" name="${name}" ${attributes}
    aria-describedby="${hint ? `${id}-hint ` : ""}${id}-error">
  <p class="error" id="${id}-error"></p>
</div>`;
}

// The questions both forms ask, in the same words and order: who the person is, how to reach
// them (`contactOrder`), their domicile and situation, and the consent (`consentHint`, a text
// key, and the terms in a new tab where `newTab` asks for it). `autocomplete` says by field what
// the browser may fill in: the person's own details on the public form, nothing on a posko's.
export function questionsHtml({ autocomplete, contactOrder, consentHint, newTab = false }) {
  return [
    identityHtml(autocomplete),
    contactHtml(contactOrder, autocomplete),
    SITUATION_HTML,
    consentHtml(consentHint, newTab),
  ].join("\n");
}

// Who the person is ...
function identityHtml(autocomplete) {
  const name = `type="text" autocomplete="${autocomplete.name}" maxlength="100" required`;
  const birthDate = `type="date" autocomplete="${autocomplete.birthDate}" required`;
  return [
    inputHtml("nik", "nik", NIK_INPUT, "nikHint"),
    inputHtml("full_name", "fullName", name),
    inputHtml("birth_date", "birthDate", birthDate, "birthDateHint"),
  ].join("\n");
}

// ... how to reach them, an email address or a mobile number, in the order the form asks ...
const CONTACT_FIELDS = {
  email: (autocomplete) =>
    inputHtml("email", "email", `type="email" autocomplete="${autocomplete}" inputmode="email" maxlength="254"`),
  phone: (autocomplete) =>
    inputHtml("phone", "phone", `type="tel" autocomplete="${autocomplete}" inputmode="tel" maxlength="24"`, "phoneHint"),
};

function contactHtml(order, autocomplete) {
  const fields = order.map((name) => CONTACT_FIELDS[name](autocomplete[name])).join("\n");
  return `  <fieldset aria-describedby="contact-hint">
    <legend data-t="contactLegend"></legend>
    <p class="hint" id="contact-hint" data-t="contactHint"></p>
${fields}
  </fieldset>`;
}

// ... the consent, with the page's own words for it ...
function consentHtml(hint, newTab) {
  const target = newTab ? ' target="_blank" rel="noopener"' : "";
  return `  <div class="field">
    <label class="choice"><input type="checkbox" id="consent" name="consent"
      aria-describedby="consent-hint consent-error"><span data-t="consent"></span></label>
    <p class="hint" id="consent-hint"><span data-t="${hint}"></span>
      <a href="/syarat"${target} data-t="termsLink"></a></p>
    <p class="error" id="consent-error"></p>
  </div>`;
}

const yesNoHtml = (name, legend) => `  <fieldset id="${name}" aria-describedby="${name}-error">
    <legend data-t="${legend}"></legend>
    <div class="inline">
      <label class="choice"><input type="radio" name="${name}" value="true"><span data-t="yes"></span></label>
      <label class="choice"><input type="radio" name="${name}" value="false"><span data-t="no"></span></label>
    </div>
    <p class="error" id="${name}-error"></p>
  </fieldset>`;

// ... and their domicile and situation, with the region list's retry. Ids are the API's field
// names, so the API's field errors land next to their field.
const SITUATION_HTML = `  <div class="field">
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
${yesNoHtml("in_formal_education", "education")}
${yesNoHtml("receives_social_aid", "socialAid")}`;

// Each field is checked as soon as it is left, not only on sending, and a valid NIK fills in
// the likely birth date. The region list is loaded (a retry button shows when it could not
// be), and a NIK typed before it arrived gets its region check once it is there. `validate`
// checks the named fields into `errors` (form_errors.js).
export function checkWhileTyping(form, { errors, validate, t }) {
  const nik = form.elements.nik;
  nik.addEventListener("input", () => {
    nik.value = nik.value.replace(/[^0-9]/g, "").slice(0, 16);
  });
  nik.addEventListener("change", () => {
    const parsed = parseNik(nik.value, regions);
    errors.set("nik", nik.value ? parsed.error || null : null);
    const birth = form.elements.birth_date;
    if (!parsed.error && !birth.value) birth.value = likelyBirthDate(parsed);
    errors.render();
  });
  form.elements.province_code.addEventListener("change", () => fillRegencies(form, t));
  for (const name of ["full_name", "birth_date", "email", "phone"]) {
    form.elements[name].addEventListener("change", () => {
      validate(form, [name]);
      errors.render();
    });
  }
  const loaded = () => {
    fillSelects(form, t);
    if (form.elements.nik.value) {
      validate(form, ["nik"]);
      errors.render();
    }
  };
  const fetchRegions = () => {
    document.getElementById("regions-error").hidden = true;
    loadRegions().then(
      () => {
        if (form.isConnected) loaded();
      },
      () => {
        if (form.isConnected) document.getElementById("regions-error").hidden = false;
      },
    );
  };
  document.getElementById("regions-retry").addEventListener("click", fetchRegions);
  fetchRegions();
}

// A choice kept in `dataset.want` (from a draft or an entry being fixed) is picked once its
// option is there.
export function fillSelects(form, t) {
  const province = form.elements.province_code;
  const chosen = province.value || province.dataset.want || "";
  if (!regions) {
    province.replaceChildren(option("", t("regionsLoading")));
  } else {
    province.replaceChildren(option("", t("choose")));
    for (const [code, name] of regions.provinces) province.append(option(code, name));
    province.value = chosen;
    delete province.dataset.want;
  }
  fillRegencies(form, t);
  const employment = form.elements.employment_status;
  const job = employment.value || employment.dataset.want || "";
  employment.replaceChildren(option("", t("choose")));
  for (const [code, name] of Object.entries(t("employmentOptions"))) {
    employment.append(option(code, name));
  }
  employment.value = job;
  delete employment.dataset.want;
}

function fillRegencies(form, t) {
  const province = form.elements.province_code.value;
  const regency = form.elements.regency_code;
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

// The checks of `p` (answersOf) before sending, by field: an error code or null.
export function answerChecks(p) {
  const nik = parseNik(p.nik, regions);
  return {
    nik: () => (p.nik ? nik.error || null : "missing"),
    full_name: () => checkName(p.full_name),
    birth_date: () => checkBirthDate(p.birth_date, nik.error ? null : nik),
    email: () => checkEmail(p.email || ""),
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
}

// The public API's sign-up body; the posko's adds its attestation.
export function answersOf(form) {
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

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
