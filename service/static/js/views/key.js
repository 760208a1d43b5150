// The API-key form: shown when the service answers 401; the key lives in sessionStorage.

import * as api from "../api.js";
import { h } from "../dom.js";

export function renderKeyForm(main, { message, onAccepted }) {
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "api-key-help api-key-error",
  });
  const error = h("p", { id: "api-key-error", class: "field-error", role: "alert" }, message || "");
  const submit = h("button", { type: "submit", class: "button primary" }, "Use this key");
  const form = h(
    "form",
    { class: "card key-form", testid: "key-form", novalidate: true },
    h("h1", { tabindex: "-1" }, "API key"),
    h(
      "p",
      { id: "api-key-help", class: "muted" },
      "This service needs a key (one of FINDER_API_KEYS). It is kept in this tab's session " +
        "storage only and sent as Authorization: Bearer.",
    ),
    h("div", { class: "field" }, h("label", { for: "api-key" }, "Key"), input, error),
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      error.textContent = "Enter a key.";
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    submit.disabled = true;
    error.textContent = "";
    try {
      if (await api.accepts(key)) return onAccepted(key);
      error.textContent = "The service refused this key.";
      input.setAttribute("aria-invalid", "true");
      input.select();
    } catch (failure) {
      error.textContent = `The service did not answer: ${failure.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  main.append(form);
  input.focus();
}
