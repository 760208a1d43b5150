// One job: its request, live progress from GET /jobs/{id}/events while it runs (with a cancel
// button), then its result (range test or tuning), or why it failed.

import * as api from "../api.js";
import { formatLr, formatNumber, h, timeElement } from "../dom.js";
import {
  describeData,
  describeModel,
  describeOptimizer,
  facts,
  showError,
  statusBadge,
  TERMINAL,
} from "./common.js";
import { rangeTestSection } from "./result.js";
import { tuningSection } from "./tuning.js";

const RETRY_MS = 1500;

// The stored request is the validated body, every default filled in.
function sweepText({ range, repeats, batch_size: batchSize }) {
  if (isAuto(range)) return `auto range, budget ${sweepSteps({ range, repeats })} steps, batch ${batchSize}`;
  const lrs = `${formatLr(range.min_lr)} → ${formatLr(range.max_lr)}`;
  return `${lrs}, ${range.num_steps} steps × ${repeats} sweeps, batch ${batchSize}`;
}

// The service's default budget of an auto range test (finder.defaults.DEFAULT_BUDGET).
const DEFAULT_BUDGET = 300;
// Sweeps of an explicit range when none were asked for (finder.defaults.JOB_REPEATS).
const JOB_REPEATS = 3;

function isAuto(range) {
  return [range.min_lr, range.max_lr, range.num_steps].includes("auto");
}

/** The range test's steps when no sweep stops early: the auto range's budget, else steps × repeats. */
function sweepSteps({ range, repeats }) {
  if (isAuto(range)) return (repeats || 1) * (range.budget || DEFAULT_BUDGET);
  return range.num_steps * (repeats || JOB_REPEATS);
}

function searchText({ tuner, max_trials: trials, epochs, objective, families }) {
  return `${tuner}, ${trials} trials × ${epochs} epochs by ${objective}, ${families.join(", ")}`;
}

function requestFacts(job) {
  const request = job.request;
  return facts(
    [
      ["Model", describeModel(request)],
      ["Data", describeData(request)],
      ["Optimizer", describeOptimizer(request)],
      ["Sweep", sweepText(request)],
      ["Plan", request.plan ? `${request.plan.epochs} epochs` : undefined],
      ["Search", request.tuning ? searchText(request.tuning) : undefined],
      ["Created", timeElement(job.created_at)],
      ["Finished", job.finished_at ? timeElement(job.finished_at) : undefined],
      ["Attempts", `${job.attempts} of ${job.max_attempts}`],
    ],
    { class: "facts horizontal", testid: "job-facts" },
  );
}

const PHASES = { range_test: "Range test", tuning: "Tuning" };

/** What the bar counts. A search's progress is its range test's steps, then one unit per trial
 * epoch, in one total where the steps dwarf the epochs: its bar counts the current phase. */
function counted(job, progress) {
  const { steps_done: done, steps_total: total, phase } = progress;
  if (job.kind !== "tune") return { done, total, text: `Step ${done} of ${total}` };
  const sweep = sweepSteps(job.request);
  if (phase === "tuning") {
    const [epochs, budget] = [done - sweep, total - sweep];
    return { done: epochs, total: budget, text: `Tuning: ${epochs} of ${budget} trial epochs` };
  }
  const steps = Math.min(done, sweep);
  return { done: steps, total: sweep, text: `Range test: step ${steps} of ${sweep}` };
}

function progressText(job, status, progress) {
  if (status === "queued") return "Waiting for a worker…";
  const parts = [counted(job, progress).text];
  if (progress.lr != null) parts.push(`lr ${formatLr(progress.lr)}`);
  if (progress.loss != null) parts.push(`loss ${formatNumber(progress.loss)}`);
  if (progress.smoothed_loss != null)
    parts.push(`smoothed ${formatNumber(progress.smoothed_loss)}`);
  return parts.join(" · ");
}

/** A search's two phases, the current one marked (aria-current="step"). */
function phaseSteps() {
  const items = Object.entries(PHASES).map(([phase, label]) =>
    h("li", { "data-phase": phase }, label, h("span", { class: "sr-only" })),
  );
  const list = h("ol", { class: "phases", testid: "phases", "aria-label": "Phases" }, items);
  const update = (status, phase) => {
    const current = status === "running" ? Object.keys(PHASES).indexOf(phase) : -1;
    items.forEach((item, i) => {
      item.classList.toggle("done", i < current);
      item.classList.toggle("current", i === current);
      if (i === current) item.setAttribute("aria-current", "step");
      else item.removeAttribute("aria-current");
      item.lastChild.textContent = i < current ? " (done)" : "";
    });
  };
  return { list, update };
}

/** The running job's panel: a progress bar fed by the event stream, and the cancel button. */
function livePanel(job, alert) {
  const bar = h("progress", {
    id: "job-progress",
    max: Math.max(job.progress.steps_total, 1),
    value: 0,
    testid: "progress-bar",
  });
  const percent = h("span", { class: "percent mono", testid: "progress-percent" });
  const text = h("p", { class: "progress-text", testid: "progress-text", "aria-live": "polite" });
  const message = h("p", { class: "progress-message muted", testid: "progress-message" });
  const phases = job.kind === "tune" ? phaseSteps() : null;
  const cancel = h(
    "button",
    { type: "button", class: "button danger", testid: "cancel-job" },
    "Cancel job",
  );
  const panel = h(
    "section",
    { class: "card live", testid: "live", "aria-labelledby": "live-title" },
    h("div", { class: "card-head" }, h("h2", { id: "live-title" }, "Progress"), cancel),
    phases?.list,
    h(
      "div",
      { class: "progress-row" },
      h(
        "label",
        { for: "job-progress", class: "sr-only" },
        phases ? "Progress of the current phase" : "Steps done",
      ),
      bar,
      percent,
    ),
    text,
    message,
  );
  const update = (status, progress) => {
    const { done, total } = counted(job, progress);
    bar.max = Math.max(total, 1);
    bar.value = done;
    panel.dataset.status = status;
    panel.dataset.stepsDone = progress.steps_done;
    panel.dataset.stepsTotal = progress.steps_total;
    panel.dataset.phase = progress.phase || "";
    percent.textContent = `${Math.round(Math.min(done / Math.max(total, 1), 1) * 100)}%`;
    text.textContent = progressText(job, status, progress);
    message.textContent = status === "queued" ? "" : progress.message || "";
    phases?.update(status, progress.phase);
  };
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    cancel.textContent = "Cancelling…";
    try {
      // The event stream brings the end: at once for a queued job, within a poll or two for
      // a running one.
      await api.cancelJob(job.id);
    } catch (error) {
      cancel.disabled = false;
      cancel.textContent = "Cancel job";
      showError(alert, error, "Cancel: ");
    }
  });
  update(job.status, job.progress);
  return { panel, update };
}

// Why a job failed, by its classification (`failure_kind`, service/jobs/failures.py).
const FAILURE_KINDS = {
  input: "The request, its model or its data is invalid: the same request would fail again, so it was not retried.",
  resources: "The model or its data is too large for the job's worker: not retried.",
  internal: "An unexpected error inside finder (worth reporting): not retried.",
  infrastructure: "The job's process or the infrastructure around it failed on every attempt.",
  timeout: "It ran past the job time limit.",
};

function outcome(job) {
  if (job.status === "succeeded" && job.result) {
    return job.kind === "tune"
      ? tuningSection(job.result, job.id)
      : rangeTestSection(job.result, job.id);
  }
  if (job.status === "failed") {
    return h(
      "section",
      { class: "card failure", testid: "job-error" },
      h("h2", {}, "Failed"),
      job.failure_kind
        ? h(
            "p",
            { class: "failure-kind", testid: "failure-kind", "data-kind": job.failure_kind },
            h("strong", {}, `${job.failure_kind}: `),
            FAILURE_KINDS[job.failure_kind] || "",
          )
        : null,
      h("pre", { class: "code" }, job.error || "No reason recorded."),
    );
  }
  if (job.status === "cancelled") {
    return h(
      "section",
      { class: "card", testid: "job-error" },
      h("h2", {}, "Cancelled"),
      h("p", { class: "muted" }, job.error || "Cancelled on request."),
    );
  }
  return null;
}

export function renderJob(main, { signal }, id) {
  const heading = h("h1", { tabindex: "-1" }, "Job ", h("span", { class: "mono" }, id.slice(0, 8)));
  const badge = h("span", { class: "badge-slot", "aria-live": "polite" });
  const alert = h("div", { class: "alert-region", role: "alert" });
  const kind = h("span", { class: "muted kind" });
  const summary = h("div", { class: "summary" });
  const body = h("div", { class: "job-body" }, h("p", { class: "loading" }, "Loading…"));
  main.append(
    h(
      "section",
      { class: "page", testid: "job-view", "data-job-id": id },
      h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "← Jobs")),
      h("div", { class: "page-head" }, h("div", { class: "title" }, heading, badge), kind),
      summary,
      alert,
      body,
    ),
  );

  let shownStatus = null;
  const setStatus = (status) => {
    if (status === shownStatus) return; // the badge is a live region: announce changes only
    shownStatus = status;
    badge.replaceChildren(statusBadge(status));
  };

  const show = (job) => {
    setStatus(job.status);
    kind.textContent = job.kind === "tune" ? "schedule search" : "LR range test";
    summary.replaceChildren(h("div", { class: "card" }, requestFacts(job)));
    if (TERMINAL.has(job.status)) {
      body.replaceChildren(outcome(job) || "");
      return;
    }
    follow(job);
  };

  async function load() {
    try {
      const job = await api.getJob(id, signal);
      if (!signal.aborted) show(job);
    } catch (error) {
      if (!signal.aborted) {
        body.replaceChildren();
        showError(alert, error);
      }
    }
  }

  async function follow(job) {
    const live = livePanel(job, alert);
    body.replaceChildren(live.panel);
    let ended = false;
    while (!ended && !signal.aborted) {
      try {
        ended = await api.followJob(
          id,
          (type, data) => {
            setStatus(data.status);
            if (data.attempts !== job.attempts) {
              // A retry started: the facts show the new attempt count.
              Object.assign(job, { attempts: data.attempts, error: data.error });
              summary.replaceChildren(h("div", { class: "card" }, requestFacts(job)));
            }
            // After `end` the result replaces the panel.
            if (type !== "end") live.update(data.status, data.progress);
          },
          signal,
        );
        alert.replaceChildren();
      } catch (error) {
        if (signal.aborted || error instanceof api.AuthError) return;
        showError(alert, error, "Lost the progress stream, retrying: ");
      }
      if (!ended) await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    if (!signal.aborted) await load();
  }

  load();
}
