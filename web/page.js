// What every view shares: the chosen language, the current view's title and re-render, and the
// complaints contact line. Views register themselves with setView so a language switch redraws
// whatever is on screen, server texts included.
import { COMPLAINTS, TEXT } from "./i18n.js";

export const main = document.getElementById("main");
const langButton = document.getElementById("lang-switch");
const help = document.getElementById("help");

let lang = localStorage.getItem("gelombang.lang") === "en" ? "en" : "id";
let view = { title: () => TEXT[lang].titles.form, render: () => {} };

export const t = (key) => TEXT[lang][key];
export const currentLang = () => lang;

// `title` is a function so a view can name its state ("needs fixing") as well as itself.
export function setView(title, render) {
  view = { title, render };
}

export function setLanguage(next) {
  lang = next;
  // The language is a display preference, not personal data: localStorage is fine for it.
  localStorage.setItem("gelombang.lang", lang);
  document.documentElement.lang = lang;
  langButton.textContent = t("switchTo");
  langButton.setAttribute("lang", lang === "id" ? "en" : "id");
  langButton.setAttribute("aria-label", t("switchLabel"));
  for (const el of document.querySelectorAll("[data-t]")) {
    const value = TEXT[lang][el.dataset.t];
    if (typeof value === "string") el.textContent = value;
  }
  if (help) help.replaceChildren(complaintsLine());
  view.render();
  refreshTitle();
}
langButton.addEventListener("click", () => setLanguage(lang === "id" ? "en" : "id"));

export function refreshTitle() {
  document.title = view.title();
}

// "Contact the complaints desk" with the desk's actual phone number and address.
export function complaintsLine() {
  const line = document.createElement("span");
  const tel = document.createElement("a");
  tel.href = `tel:${COMPLAINTS.phone.replace(/[^0-9+]/g, "")}`;
  tel.textContent = COMPLAINTS.phone;
  const mail = document.createElement("a");
  mail.href = `mailto:${COMPLAINTS.email}`;
  mail.textContent = COMPLAINTS.email;
  const [before, between, after] = TEXT[lang].complaints;
  line.append(before, tel, between, mail, after);
  return line;
}

// A server message kept with the language it came in, so a language switch can show the page's
// own text for the same code instead of leaving the old language on screen.
export function serverMessage(json, fallbackCode) {
  const error = json && Array.isArray(json.errors) && json.errors[0];
  // Error bodies name their code in errors[]; the contact endpoints' 2xx bodies in "status".
  const status = json && typeof json.status === "string" ? json.status : null;
  return {
    code: (error && error.code) || status || fallbackCode,
    text: (json && json.detail) || null,
    lang,
  };
}

export function localized(message) {
  if (!message) return "";
  const own = TEXT[lang].errors[message.code];
  if (message.text && (message.lang === lang || !own)) return message.text;
  return own || message.text || TEXT[lang].errors.unknown;
}
