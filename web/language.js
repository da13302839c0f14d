// What every view of a page shares, on the public page and the officers' page alike: the chosen
// language (one preference for the whole site), the current view's title and redraw, and the
// page's own text for an error code. A language switch redraws whatever is on screen, server
// texts included. Each page calls this once with its own text table.
export function pageLanguage(TEXT) {
  const langButton = document.getElementById("lang-switch");
  let lang = localStorage.getItem("gelombang.lang") === "en" ? "en" : "id";
  let view = { title: () => TEXT[lang].titles.form, render: () => {} };
  const listeners = new Set();

  const t = (key) => TEXT[lang][key];

  // `title` is a function so a view can name its state ("needs fixing") as well as itself.
  function setView(title, render) {
    view = { title, render };
  }

  // Parts of the page outside the current view (a footer, a menu) redraw too.
  function onLanguage(listener) {
    listeners.add(listener);
  }

  function refreshTitle() {
    document.title = view.title();
  }

  function setLanguage(next) {
    lang = next;
    // The language is a display preference, not personal data: localStorage is fine for it.
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

  // An error the server or our own checks named by its code: our text for it in the current
  // language, else the server's own message, which is kept with the language it came in so
  // that a switch shows our text for the same code instead of leaving the old language.
  function errorText(code, serverText, serverLang) {
    const own = TEXT[lang].errors[code];
    if (serverText && (serverLang === lang || !own)) return serverText;
    return own || serverText || TEXT[lang].errors.unknown;
  }

  return { t, currentLang: () => lang, setView, onLanguage, refreshTitle, setLanguage, errorText };
}

// "nav.form" names TEXT[lang].nav.form; a plain key names itself.
function dig(object, path) {
  return path.split(".").reduce((at, key) => (at == null ? at : at[key]), object);
}
