// Status page and SMS code entry. The status token lives in the URL fragment: browsers never
// send it to a server, so it stays out of every access log and Referer header.
import { api, failureKind, retryDelayS } from "./net.js";
import {
  complaintsLine,
  currentLang,
  localized,
  main,
  serverMessage,
  setLanguage,
  setView,
  t,
} from "./page.js";

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

export function stopStatus() {
  clearTimeout(statusTimer);
}

export function showStatus(justSubmitted = false) {
  const { id, token, sms } = fragment();
  main.innerHTML = `
    <h1 id="status-title" tabindex="-1" data-t="statusTitle"></h1>
    <p id="status-nik" class="hint"></p>
    <p id="status-text" role="status" aria-live="polite"></p>
    <p id="status-help" hidden></p>
    <ol id="steps" class="steps"></ol>
    <section id="otp" hidden></section>
    <p id="status-updated" class="hint"></p>
    <section id="keep" class="keep" aria-labelledby="keep-title">
      <h2 id="keep-title" data-t="keepTitle"></h2>
      <p class="hint" data-t="saveLink"></p>
      <label for="status-link" data-t="statusLinkLabel"></label>
      <input type="text" id="status-link" readonly>
      <div class="actions">
        <button type="button" class="secondary" id="copy-link" data-t="copyLink"></button>
        <button type="button" class="secondary" id="share-link" data-t="shareLink" hidden></button>
      </div>
      <p id="copy-done" class="hint" role="status" aria-live="polite"></p>
    </section>
    <p><a href="/" data-t="newRegistration"></a></p>`;
  document.getElementById("status-title").focus();
  if (!id || !token) {
    document.getElementById("keep").hidden = true;
    // The way back for someone whose link lost its end: the link again, sent to their contact.
    document.getElementById("status-text").insertAdjacentHTML(
      "afterend", '<p class="lost-link"><a href="/tautan" data-t="lostLinkCta"></a></p>');
    setView(() => t("titles").status, () => {
      document.getElementById("status-text").textContent = t("statusNotFound");
    });
    setLanguage(currentLang());
    return;
  }
  setUpKeepLink();
  let last = null;
  let lastLang = null;
  let misses = 0;
  let otpShown = false;
  let failedUntil = null;
  let updatedAt = null;
  let failures = 0;
  const render = () => {
    const status = last ? last.status : "submitted";
    const rejected = last && last.status === "rejected";
    const reasonEntry = rejected ? [...last.history].reverse().find((h) => h.reason) : null;
    const contact = last && last.contact;
    const contactOpen = contact && !rejected && ["pending", "sent"].includes(contact.state);
    const textEl = document.getElementById("status-text");
    let text;
    if (!last) text = misses > 20 ? t("statusNotFound") : t("notYet");
    else if (rejected) text = `${t("statusText").rejected} ${reasonEntry?.message || ""}`.trim();
    else if (contactOpen) {
      const by = new Date(contact.confirm_by).toLocaleString(currentLang() === "id" ? "id-ID" : "en-GB");
      const todo = t("contactTodo")[contact.method];
      text = todo ? todo(contact.hint, by) : t("statusText")[status];
    } else text = t("statusText")[status] || status;
    // Rewritten only when it changes: it is a live region, read out on every change.
    if (textEl.textContent !== text) textEl.textContent = text;
    textEl.className = rejected ? "notice bad" : status === "selected" ? "notice good" : "";
    const help = document.getElementById("status-help");
    help.hidden = !rejected;
    if (rejected) help.replaceChildren(t("rejectedHelp"), " ", complaintsLine());
    document.getElementById("status-nik").textContent = last ? t("nikLast4")(last.nik_last4) : "";
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
    const locale = currentLang() === "id" ? "id-ID" : "en-GB";
    document.getElementById("status-updated").textContent = failedUntil
      ? t("statusRetry")(failedUntil.toLocaleTimeString(locale))
      : updatedAt
        ? t("refreshed")(updatedAt.toLocaleTimeString(locale))
        : "";
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
  const poll = (delayMs) => {
    clearTimeout(statusTimer);
    statusTimer = setTimeout(async () => {
      let next = 3000;
      const asked = currentLang();
      const answer = await api("GET", `/api/v1/registrations/${encodeURIComponent(id)}`, {
        headers: { "X-Status-Token": token },
        lang: asked,
      });
      failedUntil = null;
      updatedAt = new Date();
      if (answer.status === 200) {
        last = answer.json;
        lastLang = asked;
      } else if (answer.status === 404) misses += 1;
      else {
        // Thousands of these pages stay open during a rush: failed asks back off like sign-ups.
        failures += 1;
        const kind = failureKind(answer) ?? "server";
        const wait = retryDelayS(kind === "offline" ? "network" : kind, failures, answer.retryAfterS);
        next = Math.max(3000, wait * 1000);
        failedUntil = new Date(Date.now() + next);
      }
      if (answer.status === 200 || answer.status === 404) failures = 0;
      if (!document.getElementById("steps")) return;
      render();
      const status = last ? last.status : "submitted";
      // Final states, and a link that never worked, need no more asking (a language switch
      // asks once more so the server's texts come back in the new language). A failed ask is
      // always asked again: the page has just said when.
      const final =
        ["rejected", "selected", "revoked"].includes(status) ||
        (!last && misses > 20 && !justSubmitted);
      if (final && !failedUntil) return;
      // Waiting for a weekly draw: no need to ask every few seconds.
      if (["verified", "waitlisted"].includes(status) && !failedUntil) next = 60000;
      poll(next);
    }, delayMs);
  };
  setView(
    () => t("titles").status,
    () => {
      if (!document.getElementById("steps")) return;
      render();
      // The history's messages come from the server in the language they were asked in.
      otpRender();
      if (last && lastLang !== currentLang()) poll(0);
    },
  );
  setLanguage(currentLang());
  poll(0);
}

// ---------------------------------------------------------------------------------------------
// Keeping the status link: copy (Clipboard API, or the selected text where it is missing, as on
// plain-http pages and older WebViews) and the phone's own share sheet where there is one.

function statusLink() {
  return `${location.origin}/status${location.hash}`;
}

function setUpKeepLink() {
  const input = document.getElementById("status-link");
  const done = document.getElementById("copy-done");
  input.value = statusLink();
  const say = (key) => {
    // Emptied first so that a second copy is announced again.
    done.textContent = "";
    setTimeout(() => {
      done.textContent = t(key);
      done.dataset.t = key;
    }, 50);
  };
  document.getElementById("copy-link").addEventListener("click", async () => {
    input.value = statusLink();
    try {
      await navigator.clipboard.writeText(input.value);
      say("copied");
      return;
    } catch {
      // no Clipboard API here, or it was refused: copy the selected text instead
    }
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
    let copied = false;
    try {
      copied = document.execCommand("copy");
    } catch {
      copied = false;
    }
    say(copied ? "copied" : "copySelected");
  });
  const share = document.getElementById("share-link");
  if (typeof navigator.share === "function") {
    share.hidden = false;
    share.addEventListener("click", async () => {
      try {
        await navigator.share({ title: t("shareTitle"), url: statusLink() });
      } catch (error) {
        // Closing the share sheet is a choice, not a failure; anything else falls back to copy.
        if (error && error.name !== "AbortError") document.getElementById("copy-link").click();
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// SMS code entry (inside the status page, and alone at /kode#id=…&t=…)

function renderOtp(section, id, token, onConfirmed, standalone = false) {
  const heading = standalone ? "h1" : "h2";
  section.innerHTML = `
    <${heading} id="otp-title" tabindex="-1" data-t="otpTitle"></${heading}>
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
  const input = section.querySelector("#code");
  // No maxlength: it would cut "935 977" to "935 97" before the space is dropped.
  input.addEventListener("input", () => {
    input.value = input.value.replace(/[^0-9]/g, "").slice(0, 6);
  });
  const error = section.querySelector("#code-error");
  const notice = section.querySelector("#otp-notice");
  // Each message as a function of the language, so a switch redraws it.
  let errorText = () => "";
  let noticeText = () => "";
  const draw = () => {
    error.textContent = errorText();
    notice.textContent = noticeText();
  };
  otpRender = draw;
  // No automatic retry for these two buttons: a failed send says so and leaves it to the person.
  const answerText = (answer, what, fallbackCode) => {
    if (answer.status === 0 || answer.status >= 500 || !answer.json) {
      return () => t("notSent")(t(what));
    }
    const message = serverMessage(answer.json, fallbackCode);
    return () => localized(message);
  };
  section.querySelector("#otp-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = input.value.replace(/[^0-9]/g, "");
    errorText = () => "";
    draw();
    input.setAttribute("aria-invalid", "false");
    if (code.length !== 6) {
      errorText = () => t("errors").otp_format;
      draw();
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    const answer = await api("POST", "/api/v1/contact/otp/verify", {
      body: { registration_id: id, code },
      headers: { "X-Status-Token": token },
      lang: currentLang(),
    });
    if (answer.status === 200) {
      noticeText = () => t("otpOk");
      notice.className = "notice good";
      draw();
      onConfirmed();
      return;
    }
    errorText = answerText(answer, "otpWhat", "otp_wrong");
    draw();
    input.setAttribute("aria-invalid", "true");
    input.focus();
  });
  section.querySelector("#otp-resend").addEventListener("click", async () => {
    const answer = await api("POST", "/api/v1/contact/otp/resend", {
      body: { registration_id: id },
      headers: { "X-Status-Token": token },
      lang: currentLang(),
    });
    notice.className = answer.status === 202 ? "notice" : "notice bad";
    noticeText = answerText(
      answer,
      "resendWhat",
      answer.status === 429 ? "otp_resend_too_soon" : "otp_resend_queued",
    );
    draw();
  });
  setLanguage(currentLang());
}

// The code box's redraw, called from the status view's language switch and the /kode view's.
let otpRender = () => {};

export function showOtpPage() {
  const { id, token } = fragment();
  main.innerHTML = `<section id="otp"></section>
    <p><a id="to-status" data-t="statusTitle"></a></p>`;
  document.getElementById("to-status").href = `/status${location.hash}`;
  setView(() => t("titles").otp, () => otpRender());
  renderOtp(document.getElementById("otp"), id, token, () => {}, true);
  document.getElementById("code").focus();
}
