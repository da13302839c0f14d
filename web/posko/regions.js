// The province and regency list, the public page's own file (generated from the API's table),
// indexed the way /rules.js expects. Retried with backoff; the form works while it is missing
// (the API checks the region prefix in any case). Offline, the service worker's copy answers.
import { pause, retryDelayS, whenOnline } from "/net.js";

const TRIES = 6;
export let regions = null;
let loading = null;

function index(data) {
  return {
    provinces: data.provinces,
    provinceNames: new Map(data.provinces.map(([code, name]) => [code, name])),
    regencyNames: new Map(data.provinces.flatMap(([, , regs]) => regs)),
    formerNikRegencies: new Set(data.former_nik_regencies),
  };
}

export function loadRegions() {
  loading ??= (async () => {
    for (let failures = 1; ; failures += 1) {
      // Tried even offline: the service worker may have the list (sw.js).
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 20_000);
      try {
        const response = await fetch("/data/regions.json", { signal: abort.signal });
        if (response.ok) return (regions = index(await response.json()));
      } catch {
        // dropped, timed out or not JSON: retried like any other failure
      } finally {
        clearTimeout(timer);
      }
      if (navigator.onLine === false) {
        failures -= 1; // not the server's fault: wait for the connection, uncounted
        await whenOnline();
        continue;
      }
      if (failures >= TRIES) {
        loading = null;
        throw new Error("regions not loaded");
      }
      await pause(retryDelayS("network", failures, null) * 1000, { wakeOnOnline: true });
    }
  })();
  return loading;
}
