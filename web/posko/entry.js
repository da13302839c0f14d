// One walk-in: the form (checked with the public page's own rules, /rules.js, so the browser,
// the public page and the API agree), saving it to the device's queue, and the walk-in's answer
// (saved / sent / accepted with the slip to print / refused with the reasons).
import { SUMMARY_HTML, fieldErrors } from "/form_errors.js";
import {
  answerChecks,
  answersOf,
  checkWhileTyping,
  fillSelects,
  newKey,
  questionsHtml,
} from "/sign_up_fields.js";
import { clock, el, errorText, main, refreshTitle, setLanguage, currentLang, setView, t } from "./page.js";
import { deleteEntry, entriesOf, getEntry, onChange, putEntry } from "./store.js";
import { owner } from "./session.js";
import { onStatus, sendNow, status } from "./sender.js";

const FIELDS = [
  "nik", "full_name", "birth_date", "phone", "email", "province_code", "regency_code",
  "employment_status", "in_formal_education", "receives_social_aid", "consent",
  "attested_id_card_seen",
];
// Label text of each field, for a refused entry's reasons (the form's summary takes its labels
// from the form itself, form_errors.js).
const LABELS = {
  nik: "nik", full_name: "fullName", birth_date: "birthDate", phone: "phone", email: "email",
  province_code: "province", regency_code: "regency", employment_status: "employment",
  in_formal_education: "education", receives_social_aid: "socialAid", consent: "consent",
  attested_id_card_seen: "attest",
};

// "Field: message", except for the two statements, whose messages say what they are about.
function labelFor(field) {
  if (!LABELS[field] || field === "consent" || field === "attested_id_card_seen") return "";
  return `${t(LABELS[field])}: `;
}

// method="post" and no action: should the script fail, a native submit never puts a NIK in an
// address. Ids are the API's field names, so the API's field errors land next to their field.
const FORM_HTML = `
<h1 id="form-title" tabindex="-1" data-t="formTitle"></h1>
<p data-t="formIntro"></p>
<p id="fixing" class="notice" data-t="fixing" hidden></p>
${SUMMARY_HTML}
<form id="walk-in" method="post" novalidate>
${questionsHtml({
  autocomplete: { name: "off", birthDate: "off", phone: "off", email: "off" },
  contactOrder: ["phone", "email"],
  consentHint: "consentHint",
  newTab: true,
})}
  <div class="field attest">
    <label class="choice"><input type="checkbox" id="attested_id_card_seen" name="attested_id_card_seen"
      aria-describedby="attested_id_card_seen-error"><span data-t="attest"></span></label>
    <p class="error" id="attested_id_card_seen-error"></p>
  </div>
  <button type="submit" class="primary" id="save" data-t="save"></button>
</form>`;

const errors = fieldErrors({
  fields: FIELDS,
  statements: ["consent", "attested_id_card_seen"],
  text: errorText,
  refreshTitle,
});

export async function showForm(fixId = null) {
  main.innerHTML = FORM_HTML;
  errors.clear();
  const form = document.getElementById("walk-in");
  setView(
    () => (errors.any() ? t("titles").formErrors : t("titles").form),
    () => {
      if (!document.getElementById("walk-in")) return;
      fillSelects(form, t);
      errors.render();
    },
  );
  setLanguage(currentLang());
  document.getElementById("form-title").focus();

  const fixing = fixId ? await getEntry(fixId) : null;
  if (fixing?.payload && fixing.owner === owner()) {
    document.getElementById("fixing").hidden = false;
    fill(form, fixing.payload);
    for (const e of fixing.errors || []) {
      if (FIELDS.includes(e.field)) errors.set(e.field, e.code, e);
    }
    errors.render();
  }

  checkWhileTyping(form, { errors, validate, t });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("save");
    if (button.disabled) return;
    button.disabled = true;
    try {
      await save(form, fixing);
    } finally {
      button.disabled = false;
    }
  });
}

function fill(form, payload) {
  for (const name of ["nik", "full_name", "birth_date", "phone", "email"]) {
    form.elements[name].value = payload[name] || "";
  }
  for (const name of ["province_code", "regency_code", "employment_status"]) {
    form.elements[name].dataset.want = payload[name] || "";
  }
  for (const name of ["in_formal_education", "receives_social_aid"]) {
    if (typeof payload[name] === "boolean") form.elements[name].value = String(payload[name]);
  }
  // Consent and the attestation are given again for the corrected data, on purpose.
  fillSelects(form, t);
}

// The assisted API's body: the public one, contact optional, plus the officer's attestation.
function payloadOf(form) {
  return {
    ...answersOf(form),
    attested_id_card_seen: form.elements.attested_id_card_seen.checked,
  };
}

function validate(form, names) {
  const p = payloadOf(form);
  return errors.check(names, {
    ...answerChecks(p),
    attested_id_card_seen: () => (p.attested_id_card_seen ? null : "attestation_required"),
  });
}

async function save(form, fixing) {
  const ok = validate(form, FIELDS);
  const payload = payloadOf(form);
  const me = owner();
  // The same person twice in the queue would reach the server as two attempts: said here.
  const queued = (await entriesOf(me)).some(
    (e) => e.payload && e.payload.nik === payload.nik && e.id !== fixing?.id && e.state !== "refused",
  );
  if (ok && queued) errors.set("nik", "nik_in_queue");
  if (!ok || queued) {
    errors.render(true);
    return;
  }
  // Saved, with its key, before anything is sent: from here on it cannot be lost.
  const entry = {
    id: newKey(),
    owner: me,
    createdAt: Date.now(),
    state: "saved",
    attempts: 0,
    payload,
    nikLast4: payload.nik.slice(-4),
    registrationId: null,
    statusToken: null,
    acceptedAt: null,
    errors: [],
    httpStatus: null,
  };
  await putEntry(entry);
  if (fixing) await deleteEntry(fixing.id);
  history.pushState(null, "", `/posko/hasil?e=${encodeURIComponent(entry.id)}`);
  showAnswer(entry.id);
}

// ---------------------------------------------------------------------------------------------
// The walk-in's answer

const ANSWER_HTML = `
<h1 id="answer-title" tabindex="-1" data-t="answerTitle"></h1>
<p id="answer-nik" class="hint"></p>
<div id="answer-live" role="status" aria-atomic="true">
  <p id="answer-state" class="state-badge"></p>
  <p id="answer-text"></p>
</div>
<ul id="answer-errors" class="reasons"></ul>
<section id="answer-accepted" hidden>
  <dl class="receipt">
    <dt data-t="registrationNumber"></dt><dd id="answer-registration" class="mono"></dd>
    <dt data-t="statusCode"></dt><dd id="answer-code" class="mono"></dd>
  </dl>
  <label for="status-link" data-t="statusLink"></label>
  <input type="text" id="status-link" readonly>
  <div class="actions">
    <button type="button" class="secondary" id="copy-link" data-t="copyLink"></button>
    <button type="button" class="primary inline-button" id="print-slip" data-t="printSlip"></button>
  </div>
  <p id="copy-done" class="hint" role="status"></p>
</section>
<div class="actions">
  <button type="button" class="secondary" id="send-now" data-t="sendNow" hidden></button>
  <button type="button" class="secondary" id="fix-entry" data-t="fixEntry" hidden></button>
  <button type="button" class="secondary" id="remove-entry" data-t="removeEntry" hidden></button>
</div>
<p><a href="/posko/" id="next-walk-in" data-t="nextWalkIn"></a></p>
<section id="slip" class="slip">
  <h2 id="slip-title"></h2>
  <dl>
    <dt id="slip-nik-label">NIK</dt><dd id="slip-nik"></dd>
    <dt id="slip-number-label"></dt><dd id="slip-number" class="mono"></dd>
    <dt id="slip-code-label"></dt><dd id="slip-code" class="mono"></dd>
    <dt id="slip-link-label"></dt><dd id="slip-link" class="mono"></dd>
    <dt id="slip-date-label"></dt><dd id="slip-date"></dd>
  </dl>
  <p id="slip-keep"></p>
</section>`;

let answerId = null;

export function statusLink(entry) {
  const id = encodeURIComponent(entry.registrationId);
  return `${location.origin}/status#id=${id}&t=${encodeURIComponent(entry.statusToken)}`;
}

// The status token in groups of four, easier to read out or copy by hand.
function grouped(token) {
  return token.match(/.{1,4}/g).join(" ");
}

export async function showAnswer(id) {
  answerId = id;
  main.innerHTML = ANSWER_HTML;
  setView(() => t("titles").answer, () => renderAnswer());
  setLanguage(currentLang());
  document.getElementById("answer-title").focus();
  document.getElementById("send-now").addEventListener("click", () => sendNow());
  document.getElementById("print-slip").addEventListener("click", () => window.print());
  document.getElementById("copy-link").addEventListener("click", copyLink);
  document.getElementById("fix-entry").addEventListener("click", () => {
    history.pushState(null, "", `/posko/?perbaiki=${encodeURIComponent(id)}`);
    showForm(id);
  });
  document.getElementById("remove-entry").addEventListener("click", async () => {
    await deleteEntry(id);
    document.getElementById("answer-text").textContent = t("removed");
  });
  document.getElementById("next-walk-in").addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState(null, "", "/posko/");
    showForm();
  });
}

onChange(() => renderAnswer());
onStatus(() => renderAnswer());

async function renderAnswer() {
  const id = answerId;
  if (!id || !document.getElementById("answer-live")) return;
  const entry = await getEntry(id);
  if (id !== answerId || !document.getElementById("answer-live")) return;
  const text = document.getElementById("answer-text");
  const stateLine = document.getElementById("answer-state");
  const reasons = document.getElementById("answer-errors");
  const accepted = document.getElementById("answer-accepted");
  const show = (name, on) => (document.getElementById(name).hidden = !on);
  reasons.replaceChildren();
  if (!entry || entry.owner !== owner()) {
    stateLine.textContent = "";
    say(text, t("notFound"));
    for (const name of ["send-now", "fix-entry", "remove-entry", "answer-accepted"]) show(name, false);
    return;
  }
  document.getElementById("answer-nik").textContent = t("nikMasked")(entry.nikLast4);
  stateLine.textContent = t("state")[entry.state];
  stateLine.dataset.state = entry.state;
  accepted.hidden = entry.state !== "accepted";
  show("send-now", false);
  show("fix-entry", entry.state === "refused" && entry.httpStatus === 422 && !!entry.payload);
  show("remove-entry", entry.state === "refused");
  if (entry.state === "saved" || entry.state === "sent") {
    const mine = status.entryId === id;
    if (navigator.onLine === false || status.phase === "offline") {
      say(text, t("savedOffline"));
    } else if (mine && status.phase === "waiting" && status.problem) {
      const p = status.problem;
      const why =
        p.code === "nik_check_pending"
          ? t("problem").nik_check_pending
          : p.kind === "server"
            ? t("problem").server(p.status)
            : t("problem")[p.kind];
      say(text, t("savedWaiting")(why, clock(status.nextAt)));
      show("send-now", true);
    } else if (entry.state === "sent" && !mine) {
      say(text, t("sentWaiting"));
    } else {
      say(text, t("savedQueued"));
    }
  } else if (entry.state === "accepted") {
    say(text, t("acceptedText"));
    document.getElementById("answer-registration").textContent = entry.registrationId;
    document.getElementById("answer-code").textContent = grouped(entry.statusToken);
    const link = document.getElementById("status-link");
    link.value = statusLink(entry);
    renderSlip(entry);
  } else if (entry.state === "refused") {
    if (entry.httpStatus === 409) say(text, t("alreadyText"));
    else if (entry.httpStatus === 422) say(text, t("refusedText"));
    else say(text, t("refusedStatus")(entry.httpStatus));
    if (entry.httpStatus !== 409) {
      for (const e of entry.errors || []) {
        reasons.append(el("li", { text: `${labelFor(e.field)}${errorText(e)}` }));
      }
    }
  }
}

// Live regions speak when their text changes: only change it when there is news.
function say(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function renderSlip(entry) {
  document.getElementById("slip").classList.add("ready");
  document.getElementById("slip-title").textContent = t("slipTitle");
  document.getElementById("slip-nik").textContent = `****${entry.nikLast4}`;
  document.getElementById("slip-number-label").textContent = t("registrationNumber");
  document.getElementById("slip-number").textContent = entry.registrationId;
  document.getElementById("slip-code-label").textContent = t("statusCode");
  document.getElementById("slip-code").textContent = grouped(entry.statusToken);
  document.getElementById("slip-link-label").textContent = t("statusLink");
  document.getElementById("slip-link").textContent = statusLink(entry);
  document.getElementById("slip-date-label").textContent = t("slipDate");
  document.getElementById("slip-date").textContent = new Date(
    entry.acceptedAt || entry.createdAt,
  ).toLocaleString(currentLang() === "id" ? "id-ID" : "en-GB", {
    dateStyle: "long",
    timeStyle: "short",
  });
  document.getElementById("slip-keep").textContent = t("slipKeep");
}

async function copyLink() {
  const input = document.getElementById("status-link");
  const done = document.getElementById("copy-done");
  try {
    await navigator.clipboard.writeText(input.value);
    done.textContent = t("copied");
  } catch {
    input.focus();
    input.select();
    done.textContent = t("copySelected");
  }
}
