// Pieces several views share: status badges, request summaries, error display.

import { AuthError } from "../api.js";
import { h } from "../dom.js";

export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export function statusBadge(status) {
  return h(
    "span",
    { class: `badge status-${status}`, testid: "job-status", "data-status": status },
    status,
  );
}

function describeSource(source, uploadLabel) {
  if (!source) return "default";
  if (source.builtin) return source.builtin;
  if (source.upload_id) return `${uploadLabel} ${source.upload_id.slice(0, 8)}`;
  return "—";
}

export function describeModel(request) {
  const model = request.model;
  return model ? describeSource(model, "uploaded model") : "fashion_cnn";
}

export function describeData(request) {
  const data = request.data;
  return data ? describeSource(data, "uploaded data") : "fashion_mnist_sample";
}

export function describeOptimizer(request) {
  const optimizer = request.optimizer;
  if (!optimizer) return "default";
  const settings = Object.entries(optimizer.settings || {}).map(([k, v]) => `${k}=${v}`);
  return settings.length ? `${optimizer.name} (${settings.join(", ")})` : optimizer.name;
}

// What a refusal's `limit` means, in words (service/core/errors.py, docs/service.md).
const REFUSALS = {
  max_queued_jobs: (value) =>
    `The queue is full: ${value} jobs are waiting, the most the service takes ` +
    "(FINDER_MAX_QUEUED_JOBS).",
  max_queued_per_key: (value) =>
    `This key already has ${value} jobs waiting, the most one key may have ` +
    "(FINDER_MAX_QUEUED_PER_KEY).",
  upload_quota_mb: (value) =>
    `This key's uploads would pass its quota of ${value} MiB (FINDER_UPLOAD_QUOTA_MB): ` +
    "delete uploads it no longer needs.",
  draining: () => "The service is shutting down (draining) and takes no new jobs for now.",
};

/** The words of a 429/503 refusal: which limit, that nothing was created, when to retry. */
export function describeRefusal(error) {
  const known = REFUSALS[error.limit];
  const what = known ? known(error.value) : error.message;
  const wait =
    error.retryAfter !== null && error.retryAfter !== undefined
      ? ` Nothing was submitted; try again in ${error.retryAfter} s.`
      : " Nothing was submitted; try again later.";
  return `${what}${wait}`;
}

/**
 * Show `error` in an alert region; a 401 is the key form's business, not this view's. A 429
 * or 503 (a bound reached, a service draining) is a message, not an error: the request was
 * fine, the service asks to retry later.
 */
export function showError(region, error, prefix = "") {
  if (error instanceof AuthError || error.name === "AbortError") return;
  if (error.retryLater) {
    region.replaceChildren(
      h(
        "p",
        {
          class: "notice",
          testid: "notice",
          "data-status": error.status,
          "data-limit": error.limit || "",
          "data-retry-after": error.retryAfter ?? "",
        },
        `${prefix}${describeRefusal(error)}`,
      ),
    );
    return;
  }
  const message =
    typeof error.detail === "string" || !error.detail
      ? error.message
      : JSON.stringify(error.detail);
  region.replaceChildren(h("p", { class: "alert", testid: "alert" }, `${prefix}${message}`));
}

/** A definition list from [term, value] pairs (values may be nodes). */
export function facts(pairs, attrs = {}) {
  return h(
    "dl",
    { class: "facts", ...attrs },
    pairs
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))),
  );
}
