// A tuning result (schema tuning_result.v1): the best schedule, the ranked trials, and the
// range test whose bounds made the search space, when there was one.

import { copyButton, formatDuration, formatLr, formatNumber, h } from "../dom.js";
import { facts } from "./common.js";
import { rangeTestSection } from "./result.js";

function formatValue(value) {
  if (typeof value === "number" && !Number.isInteger(value)) return formatLr(value);
  return String(value);
}

function paramsText(spec) {
  if (!spec) return "—";
  return Object.entries(spec.params)
    .map(([name, value]) => `${name}=${formatValue(value)}`)
    .join(", ");
}

function trialsTable(result) {
  const objective = result.objective;
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "table trials", testid: "trials-table" },
      h(
        "caption",
        { class: "sr-only" },
        `Trials ranked by ${objective.name} (${objective.direction})`,
      ),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          [
            "Rank",
            "Trial",
            "Family",
            "Parameters",
            "Epochs",
            objective.name,
            "Outcome",
            "Status",
          ].map((name, i) =>
            h("th", { scope: "col", class: i === 0 || i >= 4 ? "num" : "" }, name),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        result.trials.map((trial) =>
          h(
            "tr",
            {
              testid: "trial-row",
              "data-trial-id": trial.trial_id,
              "data-status": trial.status,
              class: trial.trial_id === result.best_trial_id ? "best" : "",
            },
            h("td", { class: "num" }, trial.rank ?? "—"),
            h("td", { class: "mono" }, trial.trial_id),
            h("td", {}, trial.family ?? "—"),
            h(
              "td",
              { class: "mono small" },
              paramsText(trial.spec),
              trial.error
                ? h(
                    "details",
                    {},
                    h("summary", {}, "error"),
                    h("pre", { class: "code" }, trial.error),
                  )
                : null,
            ),
            h("td", { class: "num" }, trial.epochs),
            h("td", { class: "num mono" }, formatNumber(trial.score)),
            h("td", { class: "num" }, trial.outcome ?? "—"),
            h(
              "td",
              { class: "num" },
              h(
                "span",
                { class: `badge trial-${trial.status.toLowerCase()}` },
                trial.status.toLowerCase(),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

function bestCard(result) {
  const best = result.best;
  const plan = result.plan;
  return h(
    "section",
    { class: "card", testid: "tuning-best", "aria-labelledby": "best-title" },
    h("h2", { id: "best-title" }, "Best schedule"),
    best
      ? [
          h(
            "p",
            {},
            h("strong", {}, best.family.replaceAll("_", " ")),
            ` sized to ${plan.epochs} epochs × ${plan.steps_per_epoch} steps (${plan.total_steps} steps).`,
          ),
          h(
            "table",
            { class: "table compact params" },
            h(
              "tbody",
              {},
              Object.entries(best.params).map(([name, value]) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, name),
                  h("td", { class: "num mono" }, formatValue(value)),
                ),
              ),
            ),
          ),
          h(
            "div",
            { class: "actions" },
            copyButton("Copy JSON spec", () => JSON.stringify(best, null, 2), {
              testid: "copy-best-spec",
            }),
          ),
        ]
      : h("p", { class: "muted" }, "No trial completed."),
    facts([
      ["Tuner", result.tuner],
      ["Objective", `${result.objective.name} (${result.objective.direction})`],
      ["Families", result.space.families.join(", ")],
      ["Peak LRs", result.space.peak_range.map(formatLr).join(" – ")],
      ["Held LRs", result.space.held_range.map(formatLr).join(" – ")],
      ["Time", formatDuration(result.wall_time_s)],
    ]),
  );
}

export function tuningSection(result, jobId) {
  return h(
    "div",
    { class: "result", testid: "tuning" },
    h(
      "div",
      { class: "result-grid tuning-grid" },
      bestCard(result),
      h(
        "section",
        { class: "card", "aria-labelledby": "trials-title" },
        h("h2", { id: "trials-title" }, `Trials (${result.trials.length})`),
        trialsTable(result),
      ),
    ),
    result.range_test
      ? rangeTestSection(result.range_test, jobId, {
          heading: "Range test that set the search space",
        })
      : h("p", { class: "muted" }, "No range test: the search space was given explicitly."),
  );
}
