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

/** Show `error` in an alert region; a 401 is the key form's business, not this view's. */
export function showError(region, error, prefix = "") {
  if (error instanceof AuthError || error.name === "AbortError") return;
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
