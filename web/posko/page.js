// What every view of the officers' page shares: the language (the same preference as the public
// page's), the current view's title and redraw, and texts. A language switch redraws whatever is
// on screen, server texts included (shown from our own texts when we know the code).
import { TEXT } from "./i18n.js";

export const main = document.getElementById("main");
const langButton = document.getElementById("lang-switch");

let lang = localStorage.getItem("gelombang.lang") === "en" ? "en" : "id";
let view = { title: () => TEXT[lang].titles.form, render: () => {} };
const listeners = new Set();

export const t = (key) => TEXT[lang][key];
export const currentLang = () => lang;
export const locale = () => (lang === "id" ? "id-ID" : "en-GB");

export function setView(title, render) {
  view = { title, render };
}

// Parts of the page outside the current view (the header's line, the menu) redraw too.
export function onLanguage(listener) {
  listeners.add(listener);
}

export function setLanguage(next) {
  lang = next;
  // A display preference, not personal data: localStorage is fine for it.
  localStorage.setItem("gelombang.lang", lang);
  document.documentElement.lang = lang;
  langButton.textContent = t("switchTo");
  langButton.setAttribute("lang", lang === "id" ? "en" : "id");
  langButton.setAttribute("aria-label", t("switchLabel"));
  for (const el of document.querySelectorAll("[data-t]")) {
    const value = dig(TEXT[lang], el.dataset.t);
    if (typeof value === "string") el.textContent = value;
  }
  for (const listener of listeners) listener();
  view.render();
  refreshTitle();
}
langButton.addEventListener("click", () => setLanguage(lang === "id" ? "en" : "id"));

function dig(object, path) {
  return path.split(".").reduce((at, key) => (at == null ? at : at[key]), object);
}

export function refreshTitle() {
  document.title = view.title();
}

// An error from the server or from our own checks: our text for its code in the current
// language, else the server's own message (in the language it came in).
export function errorText(error) {
  const own = TEXT[lang].errors[error.code];
  if (error.message && (error.lang === lang || !own)) return error.message;
  return own || error.message || TEXT[lang].errors.unknown;
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function clock(ms) {
  return new Date(ms).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
}
