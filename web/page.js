// The public page's shared view state (language, title, redraw: language.js) with its own texts,
// and the complaints contact line. Views register themselves with setView so a language switch
// redraws whatever is on screen, server texts included.
import { COMPLAINTS, TEXT } from "./i18n.js";
import { pageLanguage } from "./language.js";

export const main = document.getElementById("main");
const help = document.getElementById("help");

const page = pageLanguage(TEXT);
export const { t, currentLang, setView, setLanguage, refreshTitle } = page;
if (help) page.onLanguage(() => help.replaceChildren(complaintsLine()));

// "Contact the complaints desk" with the desk's actual phone number and address.
export function complaintsLine() {
  const line = document.createElement("span");
  const tel = document.createElement("a");
  tel.href = `tel:${COMPLAINTS.phone.replace(/[^0-9+]/g, "")}`;
  tel.textContent = COMPLAINTS.phone;
  const mail = document.createElement("a");
  mail.href = `mailto:${COMPLAINTS.email}`;
  mail.textContent = COMPLAINTS.email;
  const [before, between, after] = t("complaints");
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
    lang: currentLang(),
  };
}

export function localized(message) {
  if (!message) return "";
  return page.errorText(message.code, message.text, message.lang);
}
