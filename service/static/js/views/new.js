// The form for a new range test (POST /find-lr), with optional uploads. The server validates:
// its 422 errors are shown next to the fields their `loc` names, other errors in the alert.

import * as api from "../api.js";
import { h } from "../dom.js";
import { showError } from "./common.js";

const OPTIMIZERS = [
  "sgd",
  "adam",
  "adamw",
  "rmsprop",
  "nadam",
  "adamax",
  "adagrad",
  "adadelta",
  "adafactor",
  "ftrl",
  "lamb",
  "lion",
];
// Which optimizers take which of the settings the form offers (all take weight_decay).
const SETTING_OPTIMIZERS = { momentum: ["sgd", "rmsprop"], nesterov: ["sgd"] };
const UPLOAD = "upload";

/** "" -> omitted; a number -> that number; anything else as typed, for the server to refuse. */
function numberValue(input) {
  const text = input.value.trim();
  if (text === "") return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
}

function prune(object) {
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined) delete object[key];
    else if (value && typeof value === "object" && !Array.isArray(value)) prune(value);
  }
  return object;
}

class FormFields {
  constructor() {
    this.fields = new Map();
  }

  /** A labelled control; `path` is the request field it sets (a 422 `loc` lands here). */
  add(path, label, control, help) {
    const id = `f-${path.replaceAll(".", "-")}`;
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
    this.fields.set(path, { wrapper, control, error });
    return wrapper;
  }

  get(path) {
    return this.fields.get(path).control;
  }

  clearErrors() {
    for (const { control, error } of this.fields.values()) {
      error.textContent = "";
      control.removeAttribute("aria-invalid");
    }
  }

  setError(path, message) {
    const field = this.fields.get(path);
    if (!field.error.textContent) field.error.textContent = message;
    field.control.setAttribute("aria-invalid", "true");
    return field.control;
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

function select(options, selected) {
  return h(
    "select",
    {},
    options.map(([value, label, disabled]) =>
      h("option", { value, selected: value === selected, disabled }, label),
    ),
  );
}

function input(attrs) {
  return h("input", { autocomplete: "off", ...attrs });
}

export function renderNewJob(main, { signal }) {
  const fields = new FormFields();
  const alert = h("div", { class: "alert-region", role: "alert", testid: "form-alert" });
  const status = h("p", { class: "form-status muted", "aria-live": "polite" });
  const heading = h("h1", { tabindex: "-1" }, "New range test");
  const holder = h("div", {}, h("p", { class: "loading" }, "Loading built-in models and data…"));
  main.append(
    h(
      "section",
      { class: "page narrow" },
      h("div", { class: "page-head" }, heading),
      alert,
      holder,
    ),
  );
  api
    .getBuiltins(signal)
    .then((builtins) => {
      if (!signal.aborted) holder.replaceChildren(buildForm(builtins, fields, alert, status));
    })
    .catch((error) => {
      if (!signal.aborted) showError(alert, error, "Could not load the built-ins: ");
    });
}

function buildForm(builtins, fields, alert, status) {
  const modelSelect = select(
    [
      ...builtins.models.map((m) => [`builtin:${m.name}`, m.name]),
      [UPLOAD, "Upload a .keras model…"],
    ],
    "builtin:fashion_cnn",
  );
  const dataSelect = select(
    [
      ...builtins.datasets.map((d) => [
        `builtin:${d.name}`,
        `${d.name}${d.available ? "" : " (not installed)"}`,
        !d.available,
      ]),
      [UPLOAD, "Upload an .npz dataset…"],
    ],
    "builtin:fashion_mnist_sample",
  );
  const modelFile = input({ type: "file", accept: ".keras" });
  const dataFile = input({ type: "file", accept: ".npz" });
  const optimizer = select(
    [["", "default (the model's own, else SGD)"], ...OPTIMIZERS.map((name) => [name, name])],
    "sgd",
  );

  const form = h(
    "form",
    { class: "card form", testid: "new-job-form", novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, "Model and data"),
      h(
        "div",
        { class: "grid-2" },
        fields.add("model", "Model", modelSelect, " "),
        fields.add("data", "Data", dataSelect, " "),
      ),
      h(
        "div",
        { class: "grid-2" },
        fields.add(
          "model_file",
          "Model file (.keras)",
          modelFile,
          "Checked, then loaded in safe mode.",
        ),
        fields.add(
          "data_file",
          "Dataset file (.npz)",
          dataFile,
          "x_train, y_train and optionally x_val, y_val; no pickles.",
        ),
      ),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Optimizer"),
      h(
        "div",
        { class: "grid-3" },
        fields.add("optimizer", "Optimizer", optimizer),
        fields.add(
          "optimizer.settings.momentum",
          "Momentum",
          input({ type: "text", inputmode: "decimal", placeholder: "0.9" }),
        ),
        fields.add(
          "optimizer.settings.weight_decay",
          "Weight decay",
          input({ type: "text", inputmode: "decimal", placeholder: "none" }),
        ),
      ),
      fields.add("optimizer.settings.nesterov", "Nesterov momentum", input({ type: "checkbox" })),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Sweep"),
      h(
        "div",
        { class: "grid-3" },
        fields.add(
          "range.min_lr",
          "Min learning rate",
          input({ type: "text", inputmode: "decimal", value: "1e-4" }),
        ),
        fields.add(
          "range.max_lr",
          "Max learning rate",
          input({ type: "text", inputmode: "decimal", value: "10" }),
        ),
        fields.add(
          "range.num_steps",
          "Steps per sweep",
          input({ type: "number", min: 2, step: 1, value: 300 }),
        ),
        fields.add(
          "repeats",
          "Repeats",
          input({ type: "number", min: 1, max: 10, step: 1, value: 3 }),
          "Sweeps over different batch orders.",
        ),
        fields.add(
          "batch_size",
          "Batch size",
          input({ type: "number", min: 1, step: 1, value: 64 }),
        ),
        fields.add(
          "plan.epochs",
          "Plan: epochs",
          input({ type: "number", min: 1, step: 1, value: 10 }),
          "Empty: no schedule proposals.",
        ),
      ),
      h(
        "details",
        { class: "advanced" },
        h("summary", {}, "Advanced"),
        h(
          "div",
          { class: "grid-3" },
          fields.add(
            "range.mode",
            "Spacing",
            select(
              [
                ["exp", "exponential"],
                ["linear", "linear"],
              ],
              "exp",
            ),
          ),
          fields.add(
            "smoothing",
            "Smoothing (EMA)",
            input({ type: "text", inputmode: "decimal", value: "0.98" }),
          ),
          fields.add(
            "divergence",
            "Stop at loss ×",
            input({ type: "text", inputmode: "decimal", value: "4" }),
          ),
          fields.add("seed", "Seed", input({ type: "number", min: 0, step: 1, value: 0 })),
          fields.add(
            "plan.steps_per_epoch",
            "Plan: steps per epoch",
            input({ type: "number", min: 1, step: 1, placeholder: "from the data" }),
          ),
          fields.add("loss", "Loss", input({ type: "text", placeholder: "the model's own" })),
        ),
        fields.add(
          "validation",
          "Score a validation subset along the sweep",
          input({ type: "checkbox", checked: true }),
        ),
      ),
    ),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        { type: "submit", class: "button primary", testid: "submit-job" },
        "Start range test",
      ),
      status,
    ),
  );

  const descriptions = new Map(
    [...builtins.models, ...builtins.datasets].map((b) => [`builtin:${b.name}`, b.description]),
  );
  const syncVisibility = () => {
    for (const [path, control, uploadHelp] of [
      ["model", modelSelect, "A Keras v3 .keras file."],
      ["data", dataSelect, "An .npz file."],
    ]) {
      fields.fields.get(path).wrapper.querySelector(".help").textContent =
        descriptions.get(control.value) || uploadHelp;
    }
    fields.fields.get("model_file").wrapper.hidden = modelSelect.value !== UPLOAD;
    fields.fields.get("data_file").wrapper.hidden = dataSelect.value !== UPLOAD;
    for (const [setting, names] of Object.entries({
      ...SETTING_OPTIMIZERS,
      weight_decay: OPTIMIZERS,
    })) {
      fields.fields.get(`optimizer.settings.${setting}`).wrapper.hidden = !names.includes(
        optimizer.value,
      );
    }
  };
  for (const control of [modelSelect, dataSelect, optimizer])
    control.addEventListener("change", syncVisibility);
  syncVisibility();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("[type=submit]");
    fields.clearErrors();
    alert.replaceChildren();
    button.disabled = true;
    try {
      const body = await requestBody(fields, modelSelect, dataSelect, modelFile, dataFile, status);
      if (!body) return;
      status.textContent = "Submitting…";
      const job = await api.submitRangeTest(body);
      status.textContent = "Queued.";
      location.hash = `#/jobs/${job.id}`;
    } catch (error) {
      status.textContent = "";
      reportErrors(error, fields, alert);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

async function uploadedSource(kind, choice, file, fields, status) {
  if (choice !== UPLOAD) return { builtin: choice.slice("builtin:".length) };
  const path = `${kind}_file`;
  const chosen = file.files[0];
  if (!chosen) {
    fields.setError(path, `Choose a file to upload.`).focus();
    return null;
  }
  status.textContent = `Uploading ${chosen.name}…`;
  try {
    const upload =
      kind === "model" ? await api.uploadModel(chosen) : await api.uploadDataset(chosen);
    return { upload_id: upload.upload_id };
  } catch (error) {
    // A refused file is this field's error; anything else is the form's.
    if (
      !(error instanceof api.ApiError) ||
      error instanceof api.AuthError ||
      error.validationErrors.length
    ) {
      throw error;
    }
    fields.setError(path, error.message).focus();
    status.textContent = "";
    return null;
  }
}

async function requestBody(fields, modelSelect, dataSelect, modelFile, dataFile, status) {
  const value = (path) => fields.get(path);
  const model = await uploadedSource("model", modelSelect.value, modelFile, fields, status);
  const data = model && (await uploadedSource("data", dataSelect.value, dataFile, fields, status));
  if (!model || !data) return null;
  const optimizerName = value("optimizer").value;
  const settings = {};
  for (const setting of ["momentum", "weight_decay"]) {
    const control = value(`optimizer.settings.${setting}`);
    if (!control.closest(".field").hidden) settings[setting] = numberValue(control);
  }
  const nesterov = value("optimizer.settings.nesterov");
  if (!nesterov.closest(".field").hidden && nesterov.checked) settings.nesterov = true;
  const epochs = numberValue(value("plan.epochs"));
  return prune({
    model,
    data,
    optimizer: optimizerName ? { name: optimizerName, settings } : undefined,
    loss: value("loss").value.trim() || undefined,
    batch_size: numberValue(value("batch_size")),
    range: {
      min_lr: numberValue(value("range.min_lr")),
      max_lr: numberValue(value("range.max_lr")),
      num_steps: numberValue(value("range.num_steps")),
      mode: value("range.mode").value,
    },
    smoothing: numberValue(value("smoothing")),
    divergence: numberValue(value("divergence")),
    repeats: numberValue(value("repeats")),
    seed: numberValue(value("seed")),
    validation: value("validation").checked,
    plan:
      epochs === undefined
        ? undefined
        : { epochs, steps_per_epoch: numberValue(value("plan.steps_per_epoch")) },
  });
}

function reportErrors(error, fields, alert) {
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
