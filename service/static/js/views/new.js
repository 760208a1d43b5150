// The new-job form: a range test (POST /find-lr) or a schedule search (POST /tune), with optional
// uploads. The server validates: its 422 errors are shown next to the fields their `loc` names,
// other errors in the alert.

import * as api from "../api.js";
import { h } from "../dom.js";
import { showError } from "./common.js";
import { FormFields, input, numberValue, prune, reportErrors, select } from "./form_fields.js";
import { sourcesFieldset } from "./source_fields.js";
import { tuningBody, tuningFieldset } from "./tuning_fields.js";

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
const KINDS = {
  find_lr: {
    label: "Range test",
    help:
      "The loss against the learning rate: suggestions, bounds and, for a plan, proposed " +
      "schedules.",
    heading: "New range test",
    submit: "Start range test",
    hash: "#/new",
    send: api.submitRangeTest,
  },
  tune: {
    label: "Schedule search",
    help:
      "A range test, then a keras-tuner search of schedules and their parameters inside its " +
      "bounds.",
    heading: "New schedule search",
    submit: "Start schedule search",
    hash: "#/new?kind=tune",
    send: api.submitTune,
  },
};

/** `#/new?kind=tune` opens the form on a schedule search; anything else on a range test. */
export function renderNewJob(main, { signal }, query) {
  const kind = new URLSearchParams(query || "").get("kind") === "tune" ? "tune" : "find_lr";
  const fields = new FormFields();
  const alert = h("div", { class: "alert-region", role: "alert", testid: "form-alert" });
  const status = h("p", { class: "form-status muted", "aria-live": "polite" });
  const heading = h("h1", { tabindex: "-1" }, KINDS[kind].heading);
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
      if (signal.aborted) return;
      holder.replaceChildren(buildForm({ builtins, fields, alert, status, heading, kind }));
    })
    .catch((error) => {
      if (!signal.aborted) showError(alert, error, "Could not load the built-ins: ");
    });
}

function kindFieldset(selected) {
  return h(
    "fieldset",
    { class: "kind-choice" },
    h("legend", {}, "Job"),
    h(
      "div",
      { class: "grid-2" },
      Object.entries(KINDS).map(([value, { label, help }]) =>
        h(
          "div",
          { class: "field check choice" },
          input({
            type: "radio",
            name: "kind",
            id: `kind-${value}`,
            value,
            checked: value === selected,
            "aria-describedby": `kind-${value}-help`,
          }),
          h("label", { for: `kind-${value}` }, label),
          h("p", { class: "help", id: `kind-${value}-help` }, help),
        ),
      ),
    ),
  );
}

function optimizerFieldset(fields) {
  const optimizer = select(
    [["", "default (the model's own, else SGD)"], ...OPTIMIZERS.map((name) => [name, name])],
    "sgd",
  );
  const element = h(
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
  );
  // Only the settings the chosen optimizer takes are shown (and sent).
  const sync = () => {
    for (const [setting, names] of Object.entries({
      ...SETTING_OPTIMIZERS,
      weight_decay: OPTIMIZERS,
    })) {
      fields.wrapper(`optimizer.settings.${setting}`).hidden = !names.includes(optimizer.value);
    }
  };
  optimizer.addEventListener("change", sync);
  sync();
  return element;
}

function sweepFieldset(fields) {
  return h(
    "fieldset",
    {},
    h("legend", {}, "Sweep"),
    h(
      "div",
      { class: "grid-3" },
      fields.add(
        "range.min_lr",
        "Min learning rate",
        input({ type: "text", inputmode: "decimal", placeholder: "auto" }),
        "Empty: found automatically.",
      ),
      fields.add(
        "range.max_lr",
        "Max learning rate",
        input({ type: "text", inputmode: "decimal", placeholder: "auto" }),
      ),
      fields.add(
        "range.num_steps",
        "Steps per sweep",
        input({ type: "number", min: 2, step: 1, placeholder: "auto" }),
      ),
      fields.add(
        "range.budget",
        "Step budget (auto range)",
        input({ type: "number", min: 1, step: 1, placeholder: "10% of the plan" }),
        "All sweeps together; by default a tenth of the plan, at least 100 steps.",
      ),
      fields.add(
        "repeats",
        "Repeats",
        input({ type: "number", min: 1, max: 10, step: 1, value: 3 }),
        "Sweeps over different batch orders (auto range: at least 4).",
      ),
      fields.add("batch_size", "Batch size", input({ type: "number", min: 1, step: 1, value: 64 })),
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
  );
}

function buildForm({ builtins, fields, alert, status, heading, kind }) {
  const sources = sourcesFieldset(fields, builtins);
  const kinds = kindFieldset(kind);
  const tuning = tuningFieldset(fields, builtins);
  const button = h("button", { type: "submit", class: "button primary", testid: "submit-job" });
  const form = h(
    "form",
    { class: "card form", testid: "new-job-form", novalidate: true },
    kinds,
    sources.element,
    optimizerFieldset(fields),
    sweepFieldset(fields),
    tuning,
    h("div", { class: "actions" }, button, status),
  );

  const chosenKind = () => kinds.querySelector("input:checked").value;
  // A plan belongs to range tests (a search sizes its schedules to its trials' epochs).
  const syncKind = () => {
    const chosen = KINDS[chosenKind()];
    const searching = chosen === KINDS.tune;
    tuning.hidden = !searching;
    for (const path of ["plan.epochs", "plan.steps_per_epoch"]) {
      fields.wrapper(path).hidden = searching;
    }
    heading.textContent = chosen.heading;
    button.textContent = chosen.submit;
  };
  kinds.addEventListener("change", () => {
    syncKind();
    // Remember the choice in the address (reload, back) without routing again.
    history.replaceState(null, "", KINDS[chosenKind()].hash);
  });
  syncKind();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fields.clearErrors();
    alert.replaceChildren();
    button.disabled = true;
    try {
      const chosen = chosenKind();
      const source = await sources.read(status);
      if (!source) return;
      const body = requestBody(fields, chosen, source);
      status.textContent = "Submitting…";
      const job = await KINDS[chosen].send(body);
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

function requestBody(fields, kind, { model, data }) {
  const value = (path) => fields.get(path);
  const shown = (path) => !fields.wrapper(path).hidden;
  const settings = {};
  for (const setting of ["momentum", "weight_decay"]) {
    const path = `optimizer.settings.${setting}`;
    if (shown(path)) settings[setting] = numberValue(value(path));
  }
  const nesterov = "optimizer.settings.nesterov";
  if (shown(nesterov) && value(nesterov).checked) settings.nesterov = true;
  const optimizerName = value("optimizer").value;
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
      budget: numberValue(value("range.budget")),
      mode: value("range.mode").value,
    },
    smoothing: numberValue(value("smoothing")),
    divergence: numberValue(value("divergence")),
    repeats: numberValue(value("repeats")),
    seed: numberValue(value("seed")),
    validation: value("validation").checked,
    plan:
      kind === "find_lr" && epochs !== undefined
        ? { epochs, steps_per_epoch: numberValue(value("plan.steps_per_epoch")) }
        : undefined,
    tuning: kind === "tune" ? tuningBody(fields) : undefined,
  });
}
