// Many walk-ins at once: a CSV file to the existing batch endpoint, its progress (polled), and
// the per-row error report, shown on the page and downloadable as the API's CSV. Uploading the
// same file again is safe: the server keys each row by (posko, NIK).
import { api, failureKind, pause, retryDelayS } from "/net.js";
import { currentLang, el, main, setLanguage, setView, t } from "./page.js";
import { authorization } from "./session.js";
import { keyRefused } from "./sender.js";

const BATCHES = "/api/v1/assisted/batches";
const REQUIRED = [
  "nik", "full_name", "birth_date", "province_code", "regency_code", "employment_status",
  "in_formal_education", "receives_social_aid", "consent", "attested_id_card_seen",
];
// The batch being followed, so a reload picks up its progress (an id, nothing personal).
const CURRENT = "gelombang.posko.batch";
const UPLOAD_TIMEOUT_MS = 60_000;
// Each look at a batch is an audit-log row: every 2 s is progress enough for a minute-long job.
const POLL_MS = 2000;

let batch = null; // { id, total, invalid, progress, done, report, pollFailed }
let following = null;
let fileError = null;
let notice = null; // () => text

export function showBatch() {
  main.innerHTML = `
    <h1 id="batch-title" tabindex="-1" data-t="batchTitle"></h1>
    <p><span data-t="batchIntro"></span> <code id="batch-columns"></code></p>
    <p data-t="batchOptional"></p>
    <p><button type="button" class="link-button" id="batch-template" data-t="template"></button></p>
    <form id="batch-form" method="post" enctype="multipart/form-data" novalidate>
      <div class="field">
        <label for="batch-file" data-t="fileLabel"></label>
        <input type="file" id="batch-file" name="file" accept=".csv,text/csv"
          aria-describedby="batch-file-error">
        <div class="error" id="batch-file-error" tabindex="-1"></div>
      </div>
      <button type="submit" class="primary" id="batch-upload" data-t="upload"></button>
    </form>
    <section id="batch-result" hidden>
      <h2 id="batch-result-title" data-t="countsCaption"></h2>
      <p id="batch-accepted"></p>
      <label for="batch-progress" data-t="batchProgress"></label>
      <progress id="batch-progress" max="100" value="0"></progress>
      <p id="batch-state" role="status"></p>
      <table id="batch-counts" class="counts"><tbody></tbody></table>
    </section>
    <section id="batch-report" hidden>
      <h2 id="report-title" data-t="reportTitle"></h2>
      <button type="button" class="secondary" id="report-download" data-t="reportDownload"></button>
      <p id="report-none" hidden data-t="reportNone"></p>
      <p id="report-failed" class="notice bad" hidden data-t="reportFailed"></p>
      <div class="table-scroll" tabindex="0" role="region" aria-labelledby="report-title">
        <table id="report-table" class="report">
          <thead><tr><th scope="col"></th><th scope="col"></th><th scope="col"></th><th scope="col"></th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
    </section>`;
  document.getElementById("batch-columns").textContent = REQUIRED.join(", ");
  setView(() => t("titles").batch, render);
  setLanguage(currentLang());
  document.getElementById("batch-title").focus();
  document.getElementById("batch-template").addEventListener("click", downloadTemplate);
  document.getElementById("report-download").addEventListener("click", downloadReport);
  document.getElementById("batch-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("batch-upload");
    if (button.disabled) return;
    button.disabled = true;
    button.textContent = t("uploading");
    try {
      await upload(document.getElementById("batch-file").files[0]);
    } finally {
      button.disabled = false;
      button.textContent = t("upload");
    }
  });
  const current = sessionStorage.getItem(CURRENT);
  if (current && batch?.id !== current) batch = { id: current, total: null, invalid: null };
  if (batch) follow(batch.id);
  render();
}

function visible() {
  return !!document.getElementById("batch-form");
}

function render() {
  if (!visible()) return;
  const error = document.getElementById("batch-file-error");
  const input = document.getElementById("batch-file");
  error.replaceChildren();
  if (fileError) {
    const { title, items } = fileError();
    error.append(el("p", { text: title }));
    if (items.length) error.append(el("ul", {}, ...items.map((text) => el("li", { text }))));
  }
  input.setAttribute("aria-invalid", fileError ? "true" : "false");
  const result = document.getElementById("batch-result");
  result.hidden = !batch;
  if (!batch) return;
  document.getElementById("batch-accepted").textContent =
    batch.total === null ? "" : t("batchAccepted")(batch.total, batch.invalid);
  const progress = batch.progress;
  const bar = document.getElementById("batch-progress");
  const state = document.getElementById("batch-state");
  if (progress) {
    const c = progress.counts;
    const total = c.total || 1;
    bar.value = Math.round(((total - c.pending) / total) * 100);
    const said = progress.state === "done" ? t("batchDone") : t("batchWorking");
    if (state.textContent !== said) state.textContent = said;
    const body = document.querySelector("#batch-counts tbody");
    body.replaceChildren(
      ...["total", "accepted", "already_submitted", "invalid", "rejected", "failed", "pending"].map(
        (k) =>
          el("tr", { "data-count": k }, el("th", { scope: "row", text: t("counts")[k] }), el("td", { text: String(c[k] ?? 0) })),
      ),
    );
  }
  if (batch.pollFailed) state.textContent = t("batchPollFailed");
  const report = document.getElementById("batch-report");
  report.hidden = !(progress && progress.state === "done");
  const head = document.querySelectorAll("#report-table th");
  t("reportHead").forEach((text, i) => (head[i].textContent = text));
  const rows = batch.report?.rows || [];
  document.querySelector("#report-table tbody").replaceChildren(
    ...rows.map((r) => el("tr", {}, ...r.map((cell) => el("td", { text: cell })))),
  );
  document.getElementById("report-table").parentElement.hidden = rows.length === 0;
  document.getElementById("report-none").hidden = !(batch.report && rows.length === 0);
  document.getElementById("report-download").hidden = !(batch.report && rows.length > 0) && !batch.reportFailed;
  document.getElementById("report-failed").hidden = !batch.reportFailed;
}

function send(method, path, { body, timeoutMs, accept = "application/json" } = {}) {
  const headers = { Accept: accept, ...authorization() };
  return api(method, path, { body, headers, lang: currentLang(), timeoutMs });
}

function problemWords(answer) {
  const kind = failureKind(answer);
  if (kind === "server") return t("problem").server(answer.status);
  return t("problem")[kind] || t("refusedStatus")(answer.status);
}

async function upload(file) {
  fileError = null;
  if (!file) {
    fileError = () => ({ title: t("noFile"), items: [] });
    render();
    document.getElementById("batch-file").focus();
    return;
  }
  if (navigator.onLine === false) {
    fileError = () => ({ title: t("uploadOffline"), items: [] });
    render();
    document.getElementById("batch-file-error").focus();
    return;
  }
  const form = new FormData();
  form.append("file", file, file.name || "walk-ins.csv");
  const answer = await send("POST", BATCHES, { body: form, timeoutMs: UPLOAD_TIMEOUT_MS });
  if (answer.status === 401) return keyRefused();
  if (answer.status === 202 && answer.json?.batch_id) {
    const json = answer.json;
    batch = { id: json.batch_id, total: json.total_rows, invalid: json.invalid_rows };
    sessionStorage.setItem(CURRENT, json.batch_id);
    document.getElementById("batch-form").reset();
    render();
    follow(json.batch_id);
    return;
  }
  if (answer.json && Array.isArray(answer.json.errors) && answer.json.errors.length) {
    // The server's words, in the language of the upload: they carry details (which columns)
    // that a code alone does not.
    const errors = answer.json.errors.map((e) => e.message || e.code);
    fileError = () => ({ title: t("fileRefused"), items: errors });
  } else if (answer.status === 413) {
    fileError = () => ({ title: t("fileRefused"), items: [t("fileTooLarge")] });
  } else {
    fileError = () => ({ title: t("uploadFailed")(problemWords(answer)), items: [] });
  }
  render();
  document.getElementById("batch-file-error").focus();
}

// Polls the batch until it is done: every second while it answers, backing off (and honouring
// Retry-After) while it does not. Stops when the officer leaves the view.
async function follow(id) {
  if (following === id) return;
  following = id;
  let failures = 0;
  try {
    while (visible() && batch?.id === id) {
      const answer = await send("GET", `${BATCHES}/${encodeURIComponent(id)}`);
      if (answer.status === 401) return keyRefused();
      if (answer.status === 404) {
        sessionStorage.removeItem(CURRENT);
        batch = null;
        return render();
      }
      if (answer.status === 200 && answer.json) {
        failures = 0;
        batch.pollFailed = false;
        batch.progress = answer.json;
        if (batch.total === null) batch.total = answer.json.counts.total;
        if (batch.invalid === null) batch.invalid = answer.json.counts.invalid;
        if (answer.json.state === "done") {
          const c = answer.json.counts;
          if (c.invalid + c.rejected + c.failed > 0) await loadReport();
          else batch.report = { rows: [], text: "" };
          render();
          return;
        }
        render();
        await pause(POLL_MS);
      } else {
        failures += 1;
        batch.pollFailed = true;
        render();
        const kind = failureKind(answer) || "server";
        await pause(retryDelayS(kind === "offline" ? "network" : kind, failures, answer.retryAfterS) * 1000, { wakeOnOnline: true });
      }
    }
  } finally {
    following = null;
  }
}

async function loadReport() {
  const answer = await send("GET", `${BATCHES}/${encodeURIComponent(batch.id)}/errors.csv`, { accept: "text/csv" });
  if (answer.status === 401) return keyRefused();
  if (answer.status !== 200) {
    batch.reportFailed = true;
    return;
  }
  batch.reportFailed = false;
  const rows = parseCsv(answer.text.replace(/^\ufeff/, ""));
  batch.report = { rows: rows.slice(1), text: answer.text, lang: currentLang() };
}

async function downloadReport() {
  // Fetched again: in the language now chosen, and after a failure this is the retry.
  await loadReport();
  render();
  if (!batch.report) return;
  save(`batch-${batch.id}-errors.csv`, batch.report.text);
}

function downloadTemplate() {
  save("posko-walk-ins.csv", `${[...REQUIRED, "phone", "email"].join(",")}\r\n`);
}

function save(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// RFC 4180: quoted cells may hold separators, quotes ("") and line breaks.
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ",") {
      row.push(cell);
      cell = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else {
      cell += ch;
    }
  }
  if (cell || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}
