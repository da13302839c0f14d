// What every view of the officers' page shares: the view state of language.js (the same
// language preference as the public page's) with the officers' texts, and small builders.
import { pageLanguage } from "/language.js";
import { TEXT } from "./i18n.js";

export const main = document.getElementById("main");

const page = pageLanguage(TEXT);
export const { t, currentLang, setView, onLanguage, setLanguage, refreshTitle } = page;
export const locale = () => (currentLang() === "id" ? "id-ID" : "en-GB");

// An error from the server or from our own checks: our text for its code in the current
// language, else the server's own message (in the language it came in).
export function errorText(error) {
  return page.errorText(error.code, error.message, error.lang);
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
