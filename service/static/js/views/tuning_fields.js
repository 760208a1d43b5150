// The schedule search's options on the new-job form: the `tuning` member of POST /tune.

import { h } from "../dom.js";
import { input, numberValue, select } from "./form_fields.js";

/**
 * The "Schedule search" fieldset; its fields register under `tuning.*`. The families come
 * from GET /builtins (finder's family registry), in `builtins.families`.
 */
export function tuningFieldset(fields, builtins) {
  const families = builtins.families.map((family) => family.name);
  const defaults = builtins.families.filter((family) => family.default).map((f) => f.name);
  return h(
    "fieldset",
    { testid: "tuning-fields" },
    h("legend", {}, "Schedule search"),
    fields.addGroup(
      "tuning.families",
      "Families",
      families,
      defaults,
      "Schedule families to search, each with its parameters inside the range test's bounds.",
    ),
    h(
      "div",
      { class: "grid-3" },
      fields.add(
        "tuning.tuner",
        "Tuner",
        select(
          [
            ["bayesian", "bayesian"],
            ["random", "random"],
            ["hyperband", "hyperband"],
          ],
          "bayesian",
        ),
      ),
      fields.add(
        "tuning.max_trials",
        "Max trials",
        input({ type: "number", min: 1, max: 100, step: 1, value: 6 }),
        "The trial budget (a cap for hyperband).",
      ),
      fields.add(
        "tuning.epochs",
        "Epochs per trial",
        input({ type: "number", min: 1, step: 1, value: 3 }),
        "The best schedule is sized to these epochs.",
      ),
      fields.add(
        "tuning.objective",
        "Objective",
        select(
          [
            ["val_loss", "val_loss (lower is better)"],
            ["val_accuracy", "val_accuracy (higher is better)"],
          ],
          "val_loss",
        ),
      ),
      fields.add(
        "tuning.executions_per_trial",
        "Executions per trial",
        input({ type: "number", min: 1, max: 5, step: 1, value: 1 }),
        "Trainings per trial, their scores averaged.",
      ),
      fields.add(
        "tuning.workers",
        "Workers",
        input({ type: "number", min: 0, max: 16, step: 1, value: 0 }),
        "Ray tasks that run trials beside the job (0: the job runs them); each needs a free CPU.",
      ),
    ),
  );
}

/** The `tuning` request member from the fieldset's controls. */
export function tuningBody(fields) {
  const value = (path) => fields.get(path);
  return {
    families: fields.checkedValues("tuning.families"),
    tuner: value("tuning.tuner").value,
    max_trials: numberValue(value("tuning.max_trials")),
    epochs: numberValue(value("tuning.epochs")),
    objective: value("tuning.objective").value,
    executions_per_trial: numberValue(value("tuning.executions_per_trial")),
    workers: numberValue(value("tuning.workers")),
  };
}
