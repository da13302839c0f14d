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
// Rejections whose message says "register again": the NIK is given back, and the page offers
// the form again, refilled (this tab only) except the fields that were wrong.
const AGAIN_CLEARS = {
  nik_not_found: ["nik", "birth_date"],
  nik_data_mismatch: ["full_name"],
  contact_expired: ["email", "phone"],
  contact_undeliverable: ["email", "phone"],
};
// What was sent, kept by the form on a 202 (sessionStorage: this tab only, gone when it closes)
// until the registration is past the checks; see signup.js.
export const SENT_KEY = "gelombang.sent";
const DRAFT_KEY = "gelombang.draft";

function readSent() {
  try {
    return JSON.parse(sessionStorage.getItem(SENT_KEY) || "null");
  } catch {
    return null;
  }
}

function dropSent(id) {
  try {
    if (readSent()?.id === id) sessionStorage.removeItem(SENT_KEY);
  } catch {
    // storage switched off: nothing was kept
  }
}

const FAILED_STEP = {
  contact_expired: "contact",
  contact_undeliverable: "contact",
  nik_not_found: "nik",
  nik_data_mismatch: "nik",
  duplicate: "submitted",
};

// "Saturday 5 December, 16:00": a deadline people can act on (no seconds, the weekday named),
// in the phone's own time zone.
function deadline(iso) {
  return new Date(iso).toLocaleString(currentLang() === "id" ? "id-ID" : "en-GB", {
    weekday: "long",
    day: "numeric",
    month: "long",
    hour: "2-digit",
    minute: "2-digit",
  });
}

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
    <p id="contact-changed" class="hint" hidden></p>
    <p id="status-help" hidden></p>
    <section id="again" class="notice" hidden aria-labelledby="again-title">
      <h2 id="again-title" data-t="againTitle"></h2>
      <p id="again-text"></p>
      <p><button type="button" class="primary" id="again-button" data-t="againButton"></button></p>
    </section>
    <ol id="steps" class="steps"></ol>
    <section id="otp" hidden></section>
    <section id="email-again" hidden aria-labelledby="email-again-title">
      <h2 id="email-again-title" data-t="emailAgainTitle"></h2>
      <p class="hint" data-t="emailAgainHint"></p>
      <p><button type="button" class="secondary" id="email-resend" data-t="emailResend"
        aria-describedby="email-resend-left"></button>
        <span class="hint resends-left" id="email-resend-left"></span></p>
      <p id="email-resend-notice" role="status" aria-live="polite"></p>
    </section>
    <details id="wrong-contact" class="wrong-contact" hidden>
      <summary data-t="wrongContactTitle"></summary>
      <p id="wrong-contact-text"></p>
      <form id="change-form" novalidate>
        <div class="field" id="change-phone-field" hidden>
          <label for="change-phone" data-t="changePhoneLabel"></label>
          <input type="tel" id="change-phone" inputmode="tel" autocomplete="tel"
            aria-describedby="change-phone-error">
          <p class="error" id="change-phone-error" role="alert"></p>
        </div>
        <div class="field" id="change-email-field" hidden>
          <label for="change-email" data-t="changeEmailLabel"></label>
          <input type="email" id="change-email" autocomplete="email"
            aria-describedby="change-email-error">
          <p class="error" id="change-email-error" role="alert"></p>
        </div>
        <button type="submit" class="secondary" id="change-submit" data-t="changeSubmit"></button>
      </form>
      <p id="change-notice" role="status" aria-live="polite"></p>
    </details>
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
  let otpResendButton = { reopen: () => {}, draw: () => {} };
  const otpResend = () => otpResendButton;
  // The resends left come with every status answer (issue 20); a resend taken asks at once.
  const resends = { counted: () => last?.contact, onAsked: () => poll(0) };
  const emailResend = wireResend(
    document.getElementById("email-resend"),
    document.getElementById("email-resend-notice"),
    id,
    token,
    "email",
    () => last?.contact?.hint || "",
    { ...resends, left: document.getElementById("email-resend-left") },
  );
  const change = wireChange(id, token, () => last?.contact, () => {
    // A new contact has sends of its own: the resend buttons may ask again.
    emailResend.reopen();
    otpResend().reopen();
    poll(0);
  });
  document.getElementById("again-button").addEventListener("click", () => registerAgain(id, last));
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
      const by = deadline(contact.confirm_by);
      const todo = t("contactTodo")[contact.method];
      text = todo ? todo(contact.hint, by) : t("statusText")[status];
    } else text = t("statusText")[status] || status;
    // Rewritten only when it changes: it is a live region, read out on every change.
    if (textEl.textContent !== text) textEl.textContent = text;
    textEl.className = rejected ? "notice bad" : status === "selected" ? "notice good" : "";
    // After a change: which contact the new message goes to (masked), and whether it went.
    const changedEl = document.getElementById("contact-changed");
    const changedText = contactOpen && contact.changes > 0
      ? (contact.state === "pending"
        ? t("contactChanged").pending(contact.hint)
        : t("contactChanged")[contact.method](contact.hint))
      : "";
    changedEl.hidden = !changedText;
    if (changedEl.textContent !== changedText) changedEl.textContent = changedText;
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
      // The NIK check may be done first; "verified" still waits for the contact.
      if (step === "verified" && contactOpen && state === "current") state = "todo";
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
      otpResendButton = renderOtp(document.getElementById("otp"), id, token, () => poll(0), false, resends);
    }
    otpResend().draw();
    document.getElementById("otp").hidden = !wantsOtp;
    // An email that did not come: sent again on request, within the same limits as SMS codes.
    document.getElementById("email-again").hidden = !(contactOpen && contact.method === "email");
    emailResend.draw();
    // A wrong email or number is changed here, before it is confirmed: the kinds of contact
    // the registration has, each with its error under it.
    const wrong = document.getElementById("wrong-contact");
    wrong.hidden = !contactOpen;
    if (contactOpen) {
      const by = deadline(contact.confirm_by);
      const text = document.getElementById("wrong-contact-text");
      text.replaceChildren(t("wrongContactText")(by), " ", complaintsLine());
    }
    change.draw();
    // Told to register again: the way back, in place.
    const again = document.getElementById("again");
    const clears = rejected ? AGAIN_CLEARS[reasonEntry?.reason] : null;
    again.hidden = !clears;
    if (clears) {
      const sent = readSent();
      const kept = sent && sent.id === id;
      document.getElementById("again-text").textContent =
        `${t("againText")[reasonEntry.reason]} ${kept ? t("againKept") : t("againNotKept")}`;
    }
    // Past the checks (or refused for good): the copy kept for "register again" is not needed.
    const settled =
      ["verified", "waitlisted", "selected", "revoked"].includes(status) || (rejected && !clears);
    if (settled) dropSent(id);
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

// "Register again": the form, refilled with what this tab sent (never the wrong fields), with a
// note on top saying what to correct. Routed like a link, through app.js.
function registerAgain(id, last) {
  const reason = [...(last?.history || [])].reverse().find((h) => h.reason)?.reason;
  const sent = readSent();
  const values = sent && sent.id === id ? { ...sent.values } : {};
  for (const field of AGAIN_CLEARS[reason] || []) delete values[field];
  try {
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ values, pending: null, again: reason }));
    sessionStorage.removeItem(SENT_KEY);
  } catch {
    // storage switched off: an empty form, with nothing kept
  }
  history.pushState(null, "", "/");
  window.dispatchEvent(new PopStateEvent("popstate"));
}

// "Send it again" (an SMS code, or the email with the link): one request per press, no
// automatic retry. After a request the button rests until the server's cooldown is over
// (Retry-After on a refusal; the API's one minute after a request it took), and says until when.
const RESEND_COOLDOWN_S = 60;

// ``counted`` gives the status answer's contact (resends_left of resend_limit, when the API
// could tell), shown in ``left`` next to the button; ``onAsked`` runs after a resend was taken.
function wireResend(button, notice, id, token, method, hint, { counted, left, onAsked } = {}) {
  let text = () => "";
  let good = null;
  let until = null;
  let timer = null;
  let asking = false;
  // The registration's resends are used up (the API's 429 otp_resend_limit): asking again
  // cannot help, so the button stays off until the contact is changed.
  let usedUp = false;
  const draw = () => {
    const count = counted?.();
    const known = Number.isInteger(count?.resends_left) && Number.isInteger(count?.resend_limit);
    // Known to be used up before anyone pressed: off, saying why (the change form stays).
    const outOfResends = !usedUp && known && count.resends_left === 0;
    const locale = currentLang() === "id" ? "id-ID" : "en-GB";
    const rest = until && !outOfResends
      ? ` ${t("resendAgainAt")(until.toLocaleTimeString(locale))}`
      : "";
    const said = text() ? `${text()}${rest}` : "";
    const limitText = outOfResends ? t("errors").otp_resend_limit : "";
    const line = [said, limitText].filter(Boolean).join(" ");
    if (notice.textContent !== line) notice.textContent = line;
    notice.className = good === null ? "" : good ? "notice" : "notice bad";
    if (left) {
      const leftText = known ? t("resendsLeft")(count.resends_left, count.resend_limit) : "";
      if (left.textContent !== leftText) left.textContent = leftText;
      left.hidden = !leftText;
    }
    button.disabled = asking || until !== null || usedUp || outOfResends;
  };
  const rest = (seconds) => {
    clearTimeout(timer);
    until = new Date(Date.now() + seconds * 1000);
    timer = setTimeout(() => {
      until = null;
      draw();
    }, seconds * 1000);
  };
  button.addEventListener("click", async () => {
    if (asking || until || button.disabled) return;
    asking = true;
    button.disabled = true;
    const answer = await api("POST", "/api/v1/contact/otp/resend", {
      body: { registration_id: id },
      headers: { "X-Status-Token": token },
      lang: currentLang(),
    });
    asking = false;
    good = answer.status === 202;
    if (answer.status === 202) {
      text = method === "email" ? () => t("emailResendQueued")(hint()) : () => t("errors").otp_resend_queued;
      rest(RESEND_COOLDOWN_S);
      onAsked?.();
    } else if (answer.status === 429 && answer.json?.code === "otp_resend_limit") {
      usedUp = true;
      const message = serverMessage(answer.json, "otp_resend_limit");
      text = () => localized(message);
    } else if (answer.status === 429) {
      text = () => t("resendTooSoon");
      rest(Math.min(3600, answer.retryAfterS ?? RESEND_COOLDOWN_S));
    } else if (answer.status === 0 || answer.status >= 500 || !answer.json) {
      text = () => t("notSent")(t("resendWhat"));
    } else {
      const message = serverMessage(answer.json, "unknown");
      text = () => localized(message);
    }
    draw();
  });
  const reopen = () => {
    if (!usedUp) return;
    usedUp = false;
    text = () => "";
    good = null;
    draw();
  };
  return { draw, reopen };
}

// "Change my number/email" (issue 20): one request per press, no automatic retry, like the
// resend buttons. The new contact is checked by the API with the sign-up form's rules; its
// errors go under the field they are about.
function mask(kind, value) {
  if (kind === "email") {
    const [name, domain] = value.split("@");
    return `${name.slice(0, 1)}***@${domain || ""}`;
  }
  return `****${value.replace(/[^0-9]/g, "").slice(-4)}`;
}

function wireChange(id, token, contactNow, onQueued) {
  const form = document.getElementById("change-form");
  const submit = document.getElementById("change-submit");
  const notice = document.getElementById("change-notice");
  const fields = {
    phone: {
      box: document.getElementById("change-phone-field"),
      input: document.getElementById("change-phone"),
      error: document.getElementById("change-phone-error"),
      text: () => "",
    },
    email: {
      box: document.getElementById("change-email-field"),
      input: document.getElementById("change-email"),
      error: document.getElementById("change-email-error"),
      text: () => "",
    },
  };
  let noticeText = () => "";
  let good = null;
  let asking = false;
  let closed = false;
  const shown = () => {
    const contact = contactNow();
    // An answer without kinds (an API from before issue 20): the contact being confirmed.
    const kinds = contact?.kinds?.length
      ? contact.kinds
      : [contact?.method === "email" ? "email" : "phone"];
    return ["phone", "email"].filter((kind) => kinds.includes(kind));
  };
  const draw = () => {
    const visible = shown();
    for (const [kind, field] of Object.entries(fields)) {
      field.box.hidden = !visible.includes(kind);
      const text = field.text();
      if (field.error.textContent !== text) field.error.textContent = text;
      field.input.setAttribute("aria-invalid", text ? "true" : "false");
    }
    const line = noticeText();
    if (notice.textContent !== line) notice.textContent = line;
    notice.className = good === null ? "" : good ? "notice" : "notice bad";
    submit.disabled = asking || closed;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (asking || closed) return;
    const visible = shown();
    for (const field of Object.values(fields)) field.text = () => "";
    noticeText = () => "";
    good = null;
    const body = { registration_id: id };
    for (const kind of visible) {
      const value = fields[kind].input.value.trim();
      if (value) body[kind] = value;
    }
    if (!body.phone && !body.email) {
      const first = fields[visible[0] || "phone"];
      first.text = () => t("errors").missing;
      draw();
      first.input.focus();
      return;
    }
    asking = true;
    draw();
    const answer = await api("POST", "/api/v1/contact/change", {
      body,
      headers: { "X-Status-Token": token },
      lang: currentLang(),
    });
    asking = false;
    if (answer.status === 202) {
      const kind = body.email ? "email" : "phone";
      const hint = mask(kind, body[kind]);
      good = true;
      noticeText = () => t("changeQueued")(hint);
      for (const field of Object.values(fields)) field.input.value = "";
      draw();
      onQueued();
      return;
    }
    good = false;
    if (answer.status === 0 || answer.status >= 500 || !answer.json) {
      noticeText = () => t("notSent")(t("changeWhat"));
    } else if (answer.status === 422 && Array.isArray(answer.json.errors)) {
      // Under the field it is about; an error about a field not shown (the email's "give one
      // of the two" on a phone-only page) under the first one that is.
      let focused = null;
      for (const error of answer.json.errors) {
        const kind = error.field in fields && visible.includes(error.field) ? error.field : visible[0];
        if (!kind) continue;
        const message = { code: error.code, text: error.message, lang: currentLang() };
        fields[kind].text = () => localized(message);
        focused = focused || fields[kind].input;
      }
      good = null;
      if (!focused) noticeText = () => localized(serverMessage(answer.json, "unknown"));
      draw();
      focused?.focus();
      return;
    } else {
      const code = answer.json.code;
      // Confirmed or decided, or out of changes: the form stays shut.
      if (code === "contact_change_closed" || code === "contact_change_limit") closed = true;
      const message = serverMessage(answer.json, code || "unknown");
      noticeText = () => localized(message);
    }
    draw();
  });
  return { draw };
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

function renderOtp(section, id, token, onConfirmed, standalone = false, resends = {}) {
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
    <p id="otp-notice" role="status" aria-live="polite"></p>
    <p><button type="button" class="secondary" id="otp-resend" data-t="otpResend"
      aria-describedby="otp-resend-left"></button>
      <span class="hint resends-left" id="otp-resend-left"></span></p>
    <p id="otp-resend-notice" role="status" aria-live="polite"></p>`;
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
  const resend = wireResend(
    section.querySelector("#otp-resend"),
    section.querySelector("#otp-resend-notice"),
    id,
    token,
    "sms",
    () => "",
    { ...resends, left: section.querySelector("#otp-resend-left") },
  );
  const draw = () => {
    error.textContent = errorText();
    notice.textContent = noticeText();
    resend.draw();
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
  setLanguage(currentLang());
  return resend;
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
