// The public sign-up page: routes each address to its view. Plain ES modules, no build step;
// index.html preloads every module so a cheap phone fetches them in parallel, not one by one.
// Server texts are always set with textContent, never as HTML.
import { api, untilFinal } from "./net.js";
import { currentLang, localized, main, serverMessage, setLanguage, setView, t } from "./page.js";
import { showForm } from "./signup.js";
import { showOtpPage, showStatus, stopStatus } from "./status.js";
import { showLostLink } from "./lost.js";

// ---------------------------------------------------------------------------------------------
// Email-link landing. The gateway serves this page for browsers opening the link; the
// confirmation itself needs this script to run, so mail scanners that pre-open links confirm
// nothing on the person's behalf.

async function showConfirm() {
  const token = new URLSearchParams(location.search).get("token");
  main.innerHTML = `
    <h1 id="confirm-title" tabindex="-1" data-t="confirmTitle"></h1>
    <p id="confirm-text" role="status" aria-live="polite"></p>`;
  // What the text says, as a function of the language so a switch redraws it.
  let say = () => t("confirming");
  let good = null;
  let statusPage = null;
  const draw = () => {
    const text = document.getElementById("confirm-text");
    if (!text) return;
    text.textContent = say();
    text.className = good === null ? "" : good ? "notice good" : "notice bad";
    if (statusPage && !document.getElementById("to-status")) {
      const p = document.createElement("p");
      const link = document.createElement("a");
      link.id = "to-status";
      link.href = statusPage;
      link.dataset.t = "statusTitle";
      link.textContent = t("statusTitle");
      p.append(link);
      main.append(p);
    }
  };
  const shown = (status, json) => {
    const message = serverMessage(json, status === 410 ? "link_expired" : "link_invalid");
    say = () => localized(message);
    good = status === 200;
    if (json && typeof json.status_page === "string" && json.status_page.startsWith("/status#")) {
      statusPage = json.status_page;
    }
    draw();
  };
  setView(() => t("titles").confirm, draw);
  setLanguage(currentLang());
  // A reload after the link did its job (the token is gone from the address by then) shows
  // the same answer again instead of "the link is incomplete".
  const earlier = JSON.parse(sessionStorage.getItem("gelombang.confirmed") || "null");
  if (!token && earlier) return shown(earlier.status, earlier.json);
  if (!token) {
    say = () => t("confirmMissing");
    good = false;
    return draw();
  }
  const result = await untilFinal(
    () =>
      api("GET", `/api/v1/contact/verify?token=${encodeURIComponent(token)}`, {
        lang: currentLang(),
      }),
    { onWait: () => {} },
  );
  if (result.gaveUp) {
    // The token stays in the address, so the reload this text suggests can use it.
    say = () => t("confirmFailed");
    good = false;
    return draw();
  }
  const { status, json } = result.answer;
  // The token has done its job; keep it out of the browser history from now on.
  history.replaceState(null, "", location.pathname);
  if (status === 200) {
    sessionStorage.setItem("gelombang.confirmed", JSON.stringify({ status, json }));
  }
  shown(status, json);
}

// ---------------------------------------------------------------------------------------------
// Terms and the purpose of the processing, linked from the consent box. A page of its own (the
// form's draft survives the visit), in the chosen language.

function showTerms() {
  main.innerHTML = `<h1 id="terms-title" tabindex="-1" data-t="termsTitle"></h1>
    <div id="terms"></div>
    <p><a href="/" data-t="newRegistration"></a></p>`;
  setView(
    () => t("titles").terms,
    () => {
      const body = document.getElementById("terms");
      if (!body) return;
      body.replaceChildren();
      for (const [heading, text] of t("terms")) {
        const h2 = document.createElement("h2");
        h2.textContent = heading;
        const p = document.createElement("p");
        p.textContent = text;
        body.append(h2, p);
      }
    },
  );
  setLanguage(currentLang());
  document.getElementById("terms-title").focus();
}

// ---------------------------------------------------------------------------------------------

function route() {
  stopStatus();
  const path = location.pathname;
  if (path === "/api/v1/contact/verify" || path === "/konfirmasi") return showConfirm();
  if (path === "/status") return showStatus();
  if (path === "/kode") return showOtpPage();
  if (path === "/tautan") return showLostLink();
  if (path === "/syarat") return showTerms();
  return showForm();
}

window.addEventListener("popstate", route);
window.addEventListener("hashchange", () => {
  if (location.pathname === "/status") showStatus();
});
route();
