// A range-test result (schema range_test_result.v1): the loss-vs-LR chart, the suggestions and
// bounds, the run's facts, and the proposed schedules with their code.

import * as api from "../api.js";
import { createChart } from "../chart.js";
import { copyButton, formatDuration, formatLr, formatNumber, h, saveBlob } from "../dom.js";
import { facts, showError } from "./common.js";

const SUGGESTION_HELP = {
  steepest: "steepest descent of the smoothed loss",
  valley: "fastai's valley: just under halfway down the longest descent",
  minimum: "the smoothed loss's minimum, divided by 10",
};

function finite(values) {
  return (values || []).filter((v) => Number.isFinite(v));
}

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

/** The loss axis: from the lowest loss to a little above the starting level, so the descent
 * fills the chart and the blow-up leaves through the top (a curve that never fell shows its
 * bulk instead). */
function lossDomain(result) {
  const raw = finite(result.losses);
  const smoothed = finite(result.smoothed_losses);
  const all = [...raw, ...smoothed, ...finite(result.repeats?.loss_lower)];
  if (!all.length) return null;
  const low = Math.min(...all);
  const start = quantile(raw.slice(0, Math.max(1, Math.floor(raw.length / 10))), 0.5);
  const drop = start - Math.min(...smoothed);
  const high =
    drop > 0.02 * Math.abs(start) ? start + 0.6 * drop : Math.max(start, quantile(raw, 0.9)) * 1.05;
  const span = Math.max(high - low, 1e-12);
  return [low - 0.05 * span, high];
}

function smoothedAt(result, lr) {
  let best = -1;
  let distance = Infinity;
  result.lrs.forEach((x, i) => {
    const d = Math.abs(Math.log(x) - Math.log(lr));
    if (d < distance && Number.isFinite(result.smoothed_losses[i])) {
      best = i;
      distance = d;
    }
  });
  return best >= 0 ? result.smoothed_losses[best] : NaN;
}

/** The chart's text alternative: the sweep, where the smoothed loss bottoms out, the marks. */
function rangeTestSummary(result) {
  const { lrs, smoothed_losses: smoothed, bounds } = result;
  const parts = [`${lrs.length} steps from lr ${formatLr(lrs[0])} to ${formatLr(lrs.at(-1))}`];
  let lowest = -1;
  smoothed.forEach((v, i) => {
    if (Number.isFinite(v) && (lowest < 0 || v < smoothed[lowest])) lowest = i;
  });
  if (lowest >= 0) {
    parts.push(
      `smoothed loss lowest (${formatNumber(smoothed[lowest])}) at lr ${formatLr(lrs[lowest])}`,
    );
  }
  const marks = Object.entries(result.suggestions)
    .filter(([, lr]) => lr != null)
    .map(([name, lr]) => `${name} ${formatLr(lr)}`);
  if (marks.length) parts.push(`suggestions: ${marks.join(", ")}`);
  if (bounds.min_lr != null && bounds.max_lr != null) {
    parts.push(`bounds ${formatLr(bounds.min_lr)} to ${formatLr(bounds.max_lr)}`);
  }
  if (bounds.edge_lr != null) parts.push(`edge of stability ${formatLr(bounds.edge_lr)}`);
  return `Loss against learning rate: ${parts.join("; ")}.`;
}

export function rangeTestChart(result) {
  const { bounds, repeats, suggestions } = result;
  const hasBounds = bounds.min_lr != null && bounds.max_lr != null;
  const hasVal =
    Array.isArray(result.val_lrs) && Array.isArray(result.val_losses) && result.val_lrs.length > 0;
  const lines = [
    {
      x: result.lrs,
      y: result.losses,
      label: "loss",
      className: "c-raw",
      width: 1,
      testid: "curve-raw",
    },
    {
      x: result.lrs,
      y: result.smoothed_losses,
      label: "smoothed",
      className: "c-smooth",
      width: 2.4,
      testid: "curve-smoothed",
    },
  ];
  if (hasVal) {
    lines.push({
      x: result.val_lrs,
      y: result.val_losses,
      label: "validation",
      className: "c-val",
      width: 1.6,
      testid: "curve-val",
      dots: true,
    });
  }
  const markers = Object.entries(suggestions)
    .filter(([, lr]) => lr != null)
    .map(([name, lr]) => ({
      x: lr,
      y: smoothedAt(result, lr),
      label: `${name} ${formatLr(lr)}`,
      className: `c-suggest s-${name}`,
      testid: "suggestion-marker",
      data: { "data-name": name, "data-lr": lr },
    }));
  if (bounds.edge_lr != null) {
    markers.push({
      x: bounds.edge_lr,
      label: `edge ${formatLr(bounds.edge_lr)}`,
      className: "c-edge",
      testid: "edge-marker",
      data: { "data-lr": bounds.edge_lr },
    });
  }
  const legend = [
    { label: "loss per batch", className: "c-raw" },
    { label: "smoothed loss", className: "c-smooth" },
  ];
  if (repeats)
    legend.push({
      label: `25–75% over ${repeats.count} sweeps`,
      className: "c-spread",
      kind: "area",
    });
  if (hasVal) legend.push({ label: "validation loss", className: "c-val" });
  if (hasBounds)
    legend.push({
      label: `bounds ${formatLr(bounds.min_lr)} – ${formatLr(bounds.max_lr)}`,
      className: "c-bounds",
      kind: "area",
    });
  if (markers.some((m) => m.testid === "suggestion-marker"))
    legend.push({ label: "suggestions", className: "c-suggest", kind: "dash" });
  if (bounds.edge_lr != null)
    legend.push({ label: "edge of stability", className: "c-edge", kind: "dash" });
  return createChart({
    title: "Loss against learning rate",
    summary: rangeTestSummary(result),
    testid: "range-chart",
    height: 445,
    x: { scale: "log", label: "learning rate (log)", name: "lr", tooltipFormat: formatLr },
    y: { label: "loss", domain: lossDomain(result) },
    lines,
    bands: repeats
      ? [
          {
            x: result.lrs,
            lower: repeats.loss_lower,
            upper: repeats.loss_upper,
            className: "c-spread",
            testid: "repeats-band",
          },
        ]
      : [],
    ranges: hasBounds
      ? [
          {
            from: bounds.min_lr,
            to: bounds.max_lr,
            className: "c-bounds",
            testid: "bounds-band",
            label: "bounds",
            data: { "data-min-lr": bounds.min_lr, "data-max-lr": bounds.max_lr },
          },
        ]
      : [],
    markers,
    legend,
  });
}

function spreadText(spread) {
  if (!spread || spread.min == null) return "—";
  return `${formatLr(spread.min)}–${formatLr(spread.max)}`;
}

/** What each suggestion means, and why any is missing. */
function suggestionNotes(result) {
  const missing = Object.entries(result.suggestion_notes || {});
  return h(
    "details",
    { class: "explain" },
    h("summary", {}, "How these are read"),
    h(
      "dl",
      { class: "facts" },
      Object.entries(SUGGESTION_HELP).map(([name, help]) =>
        h("div", {}, h("dt", {}, name), h("dd", {}, help)),
      ),
      h(
        "div",
        {},
        h("dt", {}, "bounds"),
        h("dd", {}, "train between min_lr and max_lr; edge_lr is where the loss turned up"),
      ),
      missing.map(([name, note]) => h("div", {}, h("dt", {}, name), h("dd", {}, note))),
    ),
  );
}

function suggestionsTable(result) {
  const spreads = result.repeats?.suggestion_spread || {};
  const rows = [
    ...Object.entries(result.suggestions).map(([name, lr]) => ({
      name,
      lr,
      spread: spreads[name],
      help: SUGGESTION_HELP[name],
    })),
    {
      name: "min_lr",
      lr: result.bounds.min_lr,
      spread: spreads.min_lr,
      help: "lower bound",
      bound: true,
    },
    {
      name: "max_lr",
      lr: result.bounds.max_lr,
      spread: spreads.max_lr,
      help: "upper bound: half the edge",
      bound: true,
    },
    { name: "edge_lr", lr: result.bounds.edge_lr, help: "where the loss turned up", bound: true },
  ];
  const hasSpread = Boolean(result.repeats);
  return h(
    "table",
    { class: "table compact", testid: "suggestions-table" },
    h("caption", { class: "sr-only" }, "Suggested learning rates and bounds"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Suggestion"),
        h("th", { scope: "col", class: "num" }, "LR"),
        hasSpread
          ? h(
              "th",
              {
                scope: "col",
                class: "num",
                title: `Lowest and highest over the ${result.repeats.count} sweeps`,
              },
              "Spread",
            )
          : null,
      ),
    ),
    h(
      "tbody",
      {},
      rows.map((row) =>
        h(
          "tr",
          { class: row.bound ? "bound-row" : "", "data-name": row.name },
          h(
            "th",
            { scope: "row", title: row.help },
            h("span", { class: `key-dot ${row.bound ? "c-bounds" : `c-suggest s-${row.name}`}` }),
            row.name,
          ),
          h("td", { class: "num mono" }, formatLr(row.lr)),
          hasSpread ? h("td", { class: "num mono muted" }, spreadText(row.spread)) : null,
        ),
      ),
    ),
  );
}

/** The steps the test added to the user's training, and their share of the plan it prepared. */
function costText(result) {
  const extra = result.extra_steps ?? result.steps_run;
  const plan = result.config?.plan_steps;
  if (!plan) return `${extra} steps`;
  return `${extra} steps, ${Math.round((100 * extra) / plan)}% of the ${plan}-step plan`;
}

function runFacts(result) {
  const stop =
    result.stopped_at_lr != null
      ? `${result.stop_reason} at lr ${formatLr(result.stopped_at_lr)}`
      : result.stop_reason;
  const model = result.model || {};
  const data = result.data || {};
  const config = result.config || {};
  return facts(
    [
      ["Stopped", stop],
      [
        "Steps",
        `${result.steps_run} in ${formatDuration(result.wall_time_s)} (${formatNumber(result.steps_per_second, 3)}/s)`,
      ],
      ["Cost", costText(result)],
      [
        "Sweep",
        `${formatLr(config.min_lr)} → ${formatLr(config.max_lr)}, ${config.num_steps} steps, ${config.mode}`,
      ],
      ["Optimizer", result.optimizer?.name],
      [
        "Model",
        model.params != null
          ? `${model.name} (${model.params.toLocaleString()} params)`
          : model.name,
      ],
      [
        "Data",
        data.samples != null
          ? `${data.samples.toLocaleString()} samples, batch ${data.batch_size}`
          : data.kind,
      ],
    ],
    { testid: "run-facts" },
  );
}

function curveDownloads(jobId, alert) {
  const button = (extension) => {
    const element = h(
      "button",
      { type: "button", class: "button small ghost", testid: `download-${extension}` },
      `curve.${extension}`,
    );
    element.addEventListener("click", async () => {
      element.disabled = true;
      try {
        saveBlob(
          await api.curveBlob(jobId, extension),
          `finder-${jobId.slice(0, 8)}-curve.${extension}`,
        );
      } catch (error) {
        showError(alert, error, `curve.${extension}: `);
      } finally {
        element.disabled = false;
      }
    });
    return element;
  };
  return h(
    "div",
    { class: "downloads" },
    h("span", { class: "muted" }, "Server figure:"),
    button("png"),
    button("svg"),
  );
}

function proposalCard(proposal) {
  const { spec, plan, curve } = proposal;
  const peak = curve.lrs.indexOf(Math.max(...curve.lrs));
  const chart = createChart({
    title: `${proposal.family} schedule: learning rate against step`,
    summary:
      `Learning rate ${formatLr(curve.lrs[0])} at step ${curve.steps[0]}, peak ` +
      `${formatLr(curve.lrs[peak])} at step ${curve.steps[peak]}, ` +
      `${formatLr(curve.lrs.at(-1))} at step ${curve.steps.at(-1)}.`,
    testid: "schedule-chart",
    className: "mini",
    height: 190,
    minHeight: 150,
    top: 10,
    xTickCount: 4,
    yTickCount: 4,
    x: { scale: "linear", label: "step", name: "step", tooltipFormat: (v) => String(v) },
    y: { label: "learning rate", format: formatLr, zero: true },
    lines: [
      {
        x: curve.steps,
        y: curve.lrs,
        label: "lr",
        className: "c-schedule",
        width: 2,
        testid: "schedule-curve",
        format: formatLr,
      },
    ],
  });
  const params = Object.entries(spec.params);
  const json = () => JSON.stringify(spec, null, 2);
  return h(
    "article",
    {
      class: "card proposal",
      testid: "proposal",
      "data-family": proposal.family,
      "data-rank": proposal.rank,
    },
    h(
      "header",
      { class: "proposal-head" },
      h("span", { class: "rank" }, `#${proposal.rank}`),
      h("h3", {}, proposal.family.replaceAll("_", " ")),
      proposal.rank === 1 ? h("span", { class: "badge recommended" }, "recommended") : null,
      h("span", { class: "muted small peak" }, `peak ${formatLr(Math.max(...curve.lrs))}`),
    ),
    chart,
    h("p", { class: "rationale" }, proposal.rationale),
    h(
      "details",
      { class: "proposal-details" },
      h("summary", {}, "Parameters and code"),
      h(
        "table",
        { class: "table compact params", testid: "schedule-params" },
        h("caption", { class: "sr-only" }, `${proposal.family} parameters`),
        h(
          "tbody",
          {},
          params.map(([name, value]) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, name),
              h(
                "td",
                { class: "num mono" },
                typeof value === "number" && !Number.isInteger(value)
                  ? formatLr(value)
                  : String(value),
              ),
            ),
          ),
        ),
      ),
      h(
        "p",
        { class: "muted small" },
        `Rule: ${proposal.rule}. Plan: ${plan.epochs} epochs × ${plan.steps_per_epoch} steps = ${plan.total_steps}.`,
      ),
      h("pre", { class: "code", testid: "schedule-code" }, h("code", {}, proposal.code)),
      h(
        "div",
        { class: "actions" },
        copyButton("Copy Keras code", () => proposal.code, { testid: "copy-code" }),
        copyButton("Copy JSON spec", json, { testid: "copy-spec" }),
      ),
    ),
  );
}

export function proposalsSection(proposals) {
  if (!proposals.length) {
    return h(
      "section",
      { class: "section" },
      h("h2", {}, "Schedules"),
      h(
        "p",
        { class: "muted" },
        "No proposals: ask for them with a training plan (epochs), and they need bounds from the curve.",
      ),
    );
  }
  const plan = proposals[0].plan;
  return h(
    "section",
    { class: "section", "aria-labelledby": "proposals-title" },
    h(
      "h2",
      { id: "proposals-title" },
      "Proposed schedules ",
      h(
        "span",
        { class: "muted small" },
        `for ${plan.epochs} epochs × ${plan.steps_per_epoch} steps`,
      ),
    ),
    h("div", { class: "proposals", testid: "proposals" }, proposals.map(proposalCard)),
  );
}

/** The whole range-test result: chart and suggestions side by side, then the schedules. */
/** How sure the bound is (schema v2's `reliability`; absent from v1 results). */
function verdictBox(result) {
  const reliability = result.reliability;
  if (!reliability) return null;
  const interval = reliability.max_lr_interval;
  const summary = interval
    ? `max_lr 80% interval ${formatLr(interval[0])} – ${formatLr(interval[1])}`
    : "no interval";
  return h(
    "div",
    { class: `verdict verdict-${reliability.verdict}`, testid: "verdict" },
    h("strong", {}, reliability.verdict),
    h(
      "span",
      { class: "muted" },
      ` · ${summary} · ${reliability.sweeps} sweeps, ${reliability.steps} steps`,
    ),
    reliability.reasons.length
      ? h(
          "ul",
          {},
          reliability.reasons.map((reason) => h("li", {}, reason)),
        )
      : null,
  );
}

export function rangeTestSection(result, jobId, { heading = "Range test" } = {}) {
  const alert = h("div", { class: "alert-region", role: "alert" });
  const note = result.bounds.note
    ? h("p", { class: "note", testid: "bounds-note" }, result.bounds.note)
    : null;
  return h(
    "div",
    { class: "result", testid: "range-test" },
    h(
      "div",
      { class: "result-grid" },
      h(
        "section",
        { class: "card chart-card", "aria-label": heading },
        h(
          "div",
          { class: "card-head" },
          h("h2", {}, heading),
          jobId ? curveDownloads(jobId, alert) : null,
        ),
        rangeTestChart(result),
        alert,
      ),
      h(
        "aside",
        { class: "card side" },
        h("h2", {}, "Suggestions"),
        verdictBox(result),
        suggestionsTable(result),
        note,
        suggestionNotes(result),
        h("h2", {}, "Run"),
        runFacts(result),
      ),
    ),
    result.proposals ? proposalsSection(result.proposals) : null,
  );
}
