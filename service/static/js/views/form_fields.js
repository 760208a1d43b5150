// The new-job form's fields: labelled controls keyed by the request field they set, so that a
// 422's `loc` finds its field; and the small helpers that turn controls into a request body.

import { h } from "../dom.js";
import { showError } from "./common.js";

/** "" -> omitted; a number -> that number; anything else as typed, for the server to refuse. */
export function numberValue(input) {
  const text = input.value.trim();
  if (text === "") return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
}

/** Drop `undefined` members, nested objects included (the server then uses its defaults). */
export function prune(object) {
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined) delete object[key];
    else if (value && typeof value === "object" && !Array.isArray(value)) prune(value);
  }
  return object;
}

export function select(options, selected) {
  return h(
    "select",
    {},
    options.map(([value, label, disabled]) =>
      h("option", { value, selected: value === selected, disabled }, label),
    ),
  );
}

export function input(attrs) {
  return h("input", { autocomplete: "off", ...attrs });
}

function fieldId(path) {
  return `f-${path.replaceAll(".", "-")}`;
}

export class FormFields {
  constructor() {
    this.fields = new Map();
  }

  /** A labelled control; `path` is the request field it sets (a 422 `loc` lands here). */
  add(path, label, control, help) {
    const id = fieldId(path);
    control.id = id;
    const error = h("p", { class: "field-error", id: `${id}-error`, testid: `error-${path}` });
    const helpText = help ? h("p", { class: "help", id: `${id}-help` }, help) : null;
    control.setAttribute(
      "aria-describedby",
      [helpText ? `${id}-help` : null, `${id}-error`].filter(Boolean).join(" "),
    );
    const isCheck = control.type === "checkbox";
    const wrapper = h(
      "div",
      { class: `field${isCheck ? " check" : ""}`, "data-field": path },
      isCheck
        ? [control, h("label", { for: id }, label)]
        : [h("label", { for: id }, label), control],
      helpText,
      error,
    );
    this.fields.set(path, { wrapper, controls: [control], error });
    return wrapper;
  }

  /** A fieldset of checkboxes that together set one list field (`path`), one per value. */
  addGroup(path, legend, choices, checked, help) {
    const id = fieldId(path);
    const error = h("p", { class: "field-error", id: `${id}-error`, testid: `error-${path}` });
    const helpText = help ? h("p", { class: "help", id: `${id}-help` }, help) : null;
    const controls = choices.map((value) =>
      input({ type: "checkbox", id: `${id}-${value}`, value, checked: checked.includes(value) }),
    );
    const wrapper = h(
      "fieldset",
      {
        class: "field group",
        "data-field": path,
        "aria-describedby": [helpText ? `${id}-help` : null, `${id}-error`]
          .filter(Boolean)
          .join(" "),
      },
      h("legend", {}, legend),
      helpText,
      h(
        "div",
        { class: "choices" },
        controls.map((control) =>
          h(
            "div",
            { class: "field check" },
            control,
            h("label", { for: control.id, class: "mono" }, control.value),
          ),
        ),
      ),
      error,
    );
    this.fields.set(path, { wrapper, controls, error });
    return wrapper;
  }

  get(path) {
    return this.fields.get(path).controls[0];
  }

  /** The values of a group's checked boxes, in the group's order. */
  checkedValues(path) {
    return this.fields
      .get(path)
      .controls.filter((control) => control.checked)
      .map((control) => control.value);
  }

  wrapper(path) {
    return this.fields.get(path).wrapper;
  }

  clearErrors() {
    for (const { controls, error } of this.fields.values()) {
      error.textContent = "";
      for (const control of controls) control.removeAttribute("aria-invalid");
    }
  }

  /** Show `message` under the field (its first error wins); returns the control to focus. */
  setError(path, message) {
    const field = this.fields.get(path);
    if (!field.error.textContent) field.error.textContent = message;
    for (const control of field.controls) control.setAttribute("aria-invalid", "true");
    return field.controls[0];
  }

  /** The field a 422 `loc` points at: `["body", "range", "max_lr"]` -> "range.max_lr";
   * union member names (`BuiltinModel`) are skipped; the longest known prefix wins. */
  pathFor(loc) {
    const parts = loc
      .slice(loc[0] === "body" ? 1 : 0)
      .filter((part) => typeof part === "number" || !/^[A-Z]/.test(part))
      .map(String);
    for (let n = parts.length; n > 0; n--) {
      const path = parts.slice(0, n).join(".");
      if (this.fields.has(path)) return path;
    }
    return null;
  }
}

/** Put each of a 422's errors next to its field (the rest in the alert) and focus the first. */
export function reportErrors(error, fields, alert) {
  const unplaced = [];
  let first = null;
  for (const item of error.validationErrors || []) {
    const message = String(item.msg).replace(/^Value error, /, "");
    const path = fields.pathFor(item.loc || []);
    if (path) {
      const control = fields.setError(path, message);
      first = first || control;
    } else {
      unplaced.push(`${(item.loc || []).join(".")}: ${message}`);
    }
  }
  if (unplaced.length) {
    alert.replaceChildren(
      h(
        "div",
        { class: "alert", testid: "alert" },
        h("p", {}, "The service refused the request:"),
        h(
          "ul",
          {},
          unplaced.map((line) => h("li", {}, line)),
        ),
      ),
    );
  } else if (!first) {
    showError(alert, error);
  }
  first?.focus();
}
