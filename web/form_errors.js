// A form's field errors, shown twice: under each field (`<name>-error`, tied to the control by
// aria-describedby) and in a summary above the form (`#summary`, `#summary-list`) that names
// each field and links to it, so that a screen reader hears every problem at once. The public
// sign-up form and the posko's walk-in form both use it, each with its own texts.
//
// `fields`: the field names in the form's order (the ids of their controls); `statements`: the
// fields whose messages say themselves what they are about (a consent), listed without a label;
// `text(message)`: the page's text for a message ({ code } or the server's, with its language);
// `refreshTitle`: the page's, since the title says when a form needs fixing.
// The summary's place, where a form puts it: above the form, hidden while there is nothing in it.
export const SUMMARY_HTML = `<div id="summary" class="summary" tabindex="-1" role="group" aria-labelledby="summary-title" hidden>
  <h2 id="summary-title" data-t="errorSummary"></h2><ul id="summary-list"></ul>
</div>`;

export function fieldErrors({ fields, statements = [], text, refreshTitle }) {
  let errors = {};

  // `server` is the API's message for this field, kept with its language.
  function set(field, code, server = null) {
    if (code) errors[field] = { code, server };
    else delete errors[field];
  }

  // `rules` maps a field to a function that answers its error code, or null when it is right.
  function check(names, rules) {
    let ok = true;
    for (const name of names) {
      const code = rules[name]();
      set(name, code);
      if (code) ok = false;
    }
    return ok;
  }

  function render(focusSummary = false) {
    const summary = document.getElementById("summary");
    if (!summary) return;
    const list = document.getElementById("summary-list");
    list.replaceChildren();
    for (const name of fields) {
      const control = document.getElementById(name);
      const error = errors[name];
      const message = error ? text(error.server || { code: error.code }) : "";
      document.getElementById(`${name}-error`).textContent = message;
      if (control) control.setAttribute("aria-invalid", error ? "true" : "false");
      if (!error) continue;
      const link = document.createElement("a");
      link.href = `#${name}`;
      // "Required." alone says nothing in a list: name the field it belongs to.
      const label = control.matches("fieldset")
        ? control.querySelector("legend")
        : document.querySelector(`label[for="${name}"]`);
      link.textContent =
        label && !statements.includes(name) ? `${label.textContent}: ${message}` : message;
      link.addEventListener("click", (e) => {
        e.preventDefault();
        (control.matches("fieldset") ? control.querySelector("input") : control).focus();
      });
      const item = document.createElement("li");
      item.append(link);
      list.append(item);
    }
    summary.hidden = list.children.length === 0;
    refreshTitle();
    if (focusSummary && !summary.hidden) summary.focus();
  }

  return {
    any: () => Object.keys(errors).length > 0,
    clear: () => {
      errors = {};
    },
    set,
    check,
    render,
  };
}
