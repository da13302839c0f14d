// "I lost my status link" (/tautan): a NIK and the contact given at sign-up; the API sends the
// status link again to that contact, never to this page, and answers the same whether or not
// the NIK is registered, so this page can only ever say "if it matched, it was sent".
import { TEXT } from "./i18n.js";
import { LOST_TEXT } from "./i18n_lost.js";
import { api, failureKind, pause, retryDelayS } from "./net.js";
import { currentLang, main, setLanguage, setView, t } from "./page.js";
import { checkEmail, checkPhone, parseNik } from "./rules.js";
import { NIK_INPUT, inputHtml, loadRegions, regions } from "./sign_up_fields.js";

// This page's texts join the page's table (new keys only), so `data-t` and a language switch
// work for them as for every other text.
for (const lang of Object.keys(LOST_TEXT)) {
  const { titles, errors, ...plain } = LOST_TEXT[lang];
  const tables = [
    [TEXT[lang], plain],
    [TEXT[lang].titles, titles],
    [TEXT[lang].errors, errors],
  ];
  for (const [table, add] of tables) {
    for (const [key, value] of Object.entries(add)) if (!(key in table)) table[key] = value;
  }
}

// Busy answers and dropped connections are retried a few times; the request is small and the
// person is waiting on this page. Our own per-NIK/per-address limit is final, not busy.
const TRIES = 5;

// The link that leads here, for the status page's error state and the form's footer.
export function lostLinkParagraph() {
  const p = document.createElement("p");
  p.className = "lost-link";
  const link = document.createElement("a");
  link.href = "/tautan";
  link.dataset.t = "lostLinkCta";
  link.textContent = t("lostLinkCta");
  p.append(link);
  return p;
}

const CONTACT_INPUT = 'type="text" autocomplete="email" spellcheck="false" autocapitalize="off" required';
const PAGE_HTML = `
<h1 id="lost-title" tabindex="-1" data-t="lostTitle"></h1>
<p data-t="lostIntro"></p>
<form id="lost" novalidate>
${inputHtml("lost-nik", "nik", NIK_INPUT, null, "nik")}
${inputHtml("lost-contact", "lostContact", CONTACT_INPUT, "lostContactHint", "contact")}
  <p id="lost-problem" class="notice bad" role="alert"></p>
  <button type="submit" class="primary" id="lost-submit" data-t="lostSubmit"></button>
</form>
<section id="lost-done" hidden>
  <p id="lost-sent" class="notice good" tabindex="-1"></p>
  <p class="hint" data-t="lostSentHint"></p>
  <p><button type="button" class="secondary" id="lost-again" data-t="lostAgain"></button></p>
</section>
<p><a href="/" data-t="newRegistration"></a></p>`;

// The sign-up form's rules (rules.js), with the API's error codes.
function checkNik(value) {
  if (!value) return "missing";
  return parseNik(value, regions).error || null;
}

function checkContact(value) {
  const v = value.trim();
  if (!v) return "contact_required";
  return v.includes("@") ? checkEmail(v) : checkPhone(v);
}

export function showLostLink() {
  main.innerHTML = PAGE_HTML;
  loadRegions().catch(() => {}); // the region prefix is then checked by the API alone
  const form = document.getElementById("lost");
  const nik = form.elements.nik;
  const contact = form.elements.contact;
  // Codes (or a server text kept with its code) per field, and one problem for the form.
  let errors = {};
  let problem = null;
  let sent = false;

  // A server text is shown in the language it came in; after a switch, the page's own text
  // for its code (as page.js's localized() does).
  const say = (message) => {
    if (!message) return "";
    if (message.text && message.lang === currentLang()) return message.text;
    return t("errors")[message.code] || message.text || t("errors").unknown;
  };
  const render = () => {
    if (!document.getElementById("lost")) return;
    for (const [name, input] of [["nik", nik], ["contact", contact]]) {
      const message = errors[name];
      document.getElementById(`lost-${name}-error`).textContent = say(message);
      input.setAttribute("aria-invalid", message ? "true" : "false");
    }
    document.getElementById("lost-problem").textContent =
      problem && problem.key ? t(problem.key) : say(problem);
    document.getElementById("lost-sent").textContent = sent ? t("lostSent") : "";
    form.hidden = sent;
    document.getElementById("lost-done").hidden = !sent;
  };
  setView(() => t("titles").lost, render);
  setLanguage(currentLang());
  document.getElementById("lost-title").focus();

  nik.addEventListener("input", () => {
    nik.value = nik.value.replace(/[^0-9]/g, "").slice(0, 16);
  });
  // Checked on submit, and a field's error goes as soon as it is edited. Not on "change": that
  // fires as the button is pressed, and an error appearing or going then moves the button
  // from under the finger, so the press is lost.
  for (const [name, input] of [["nik", nik], ["contact", contact]]) {
    input.addEventListener("input", () => {
      if (!errors[name] && !problem) return;
      errors = { ...errors, [name]: null };
      problem = null;
      render();
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("lost-submit");
    if (button.disabled) return;
    const nikCode = checkNik(nik.value);
    const contactCode = checkContact(contact.value);
    errors = {
      nik: nikCode ? { code: nikCode } : null,
      contact: contactCode ? { code: contactCode } : null,
    };
    problem = null;
    render();
    if (nikCode || contactCode) {
      (nikCode ? nik : contact).focus();
      return;
    }
    button.disabled = true;
    button.textContent = t("lostSending");
    try {
      const answer = await send({ nik: nik.value, contact: contact.value.trim() }, () => {
        problem = { key: "lostBusy" };
        render();
      });
      shown(answer);
    } finally {
      button.disabled = false;
      button.textContent = t("lostSubmit");
    }
  });
  document.getElementById("lost-again").addEventListener("click", () => {
    sent = false;
    contact.value = "";
    render();
    contact.focus();
  });

  function shown(answer) {
    const json = answer.json;
    const lang = currentLang();
    problem = null;
    if (answer.status === 202) {
      sent = true;
      render();
      document.getElementById("lost-sent").focus();
      return;
    }
    if (answer.status === 422 && json && Array.isArray(json.errors) && json.errors.length) {
      for (const e of json.errors) {
        const message = { code: e.code, text: e.message, lang };
        const field = e.field === "nik" || e.field === "contact" ? e.field : null;
        if (field) errors = { ...errors, [field]: message };
        else problem = message;
      }
    } else if (answer.status === 429 && json && json.code === "status_link_too_many") {
      problem = { code: json.code, text: json.detail, lang };
    } else {
      problem = { key: "lostFailed" };
    }
    render();
  }
}

async function send(body, onWait) {
  for (let tries = 1; ; tries += 1) {
    const answer = await api("POST", "/api/v1/status-link", { body, lang: currentLang() });
    const limited =
      answer.status === 429 && answer.json && answer.json.code === "status_link_too_many";
    const kind = limited ? null : failureKind(answer);
    if (kind === null || kind === "offline" || tries >= TRIES) return answer;
    onWait();
    await pause(retryDelayS(kind, tries, answer.retryAfterS) * 1000, {
      wakeOnOnline: kind === "network",
    });
  }
}
