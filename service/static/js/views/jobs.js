// The jobs list: newest first, filtered by status, paginated with limit/offset.

import * as api from "../api.js";
import { h, timeElement } from "../dom.js";
import {
  describeData,
  describeModel,
  describeOptimizer,
  showError,
  statusBadge,
} from "./common.js";

const STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"];
const PAGE_SIZES = [10, 20, 50, 100];
const REFRESH_MS = 3000;

function readQuery(query) {
  const params = new URLSearchParams(query || "");
  const limit = Number(params.get("limit"));
  const offset = Number(params.get("offset"));
  return {
    status: STATUSES.includes(params.get("status")) ? params.get("status") : "",
    limit: Number.isInteger(limit) && limit >= 1 && limit <= 100 ? limit : 20,
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
  };
}

function hashFor({ status, limit, offset }) {
  const params = new URLSearchParams();
  if (status) params.set("status", status);
  if (limit !== 20) params.set("limit", limit);
  if (offset) params.set("offset", offset);
  const query = params.toString();
  return query ? `#/jobs?${query}` : "#/jobs";
}

function progressCell(job) {
  const { steps_done: done, steps_total: total, fraction } = job.progress;
  if (job.status === "succeeded" || !total)
    return h("td", { class: "num" }, job.status === "succeeded" ? "done" : "—");
  return h(
    "td",
    { class: "num" },
    h("progress", { max: total, value: done, "aria-label": `${done} of ${total} steps` }),
    ` ${Math.round(fraction * 100)}%`,
  );
}

const PHASES = { range_test: "range test", tuning: "tuning" };

/** The kind of job; a running schedule search also says which of its phases it is in. */
function kindCell(job) {
  const phase = job.status === "running" && job.kind === "tune" && PHASES[job.progress.phase];
  return h(
    "td",
    { testid: "job-kind" },
    job.kind === "tune" ? "schedule search" : "range test",
    phase ? h("span", { class: "muted small block" }, phase) : null,
  );
}

function jobRow(job) {
  const link = h("a", { href: `#/jobs/${job.id}`, class: "mono" }, job.id.slice(0, 8));
  return h(
    "tr",
    { testid: "job-row", "data-job-id": job.id, "data-status": job.status, "data-kind": job.kind },
    h("td", {}, link),
    h("td", {}, statusBadge(job.status)),
    kindCell(job),
    h("td", {}, describeModel(job.request)),
    h("td", {}, describeData(job.request)),
    h("td", {}, describeOptimizer(job.request)),
    progressCell(job),
    h("td", {}, timeElement(job.created_at)),
  );
}

function table(jobs) {
  const headers = ["Job", "Status", "Kind", "Model", "Data", "Optimizer", "Progress", "Created"];
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "table jobs-table", testid: "jobs-table" },
      h("caption", { class: "sr-only" }, "Your jobs, newest first"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          headers.map((name) => h("th", { scope: "col" }, name)),
        ),
      ),
      h("tbody", {}, jobs.map(jobRow)),
    ),
  );
}

export function renderJobs(main, { signal }, query) {
  const state = readQuery(query);
  const go = (change) => {
    location.hash = hashFor({ ...state, ...change });
  };
  const statusSelect = h(
    "select",
    { id: "status-filter", name: "status" },
    h("option", { value: "" }, "all"),
    STATUSES.map((status) =>
      h("option", { value: status, selected: status === state.status }, status),
    ),
  );
  statusSelect.addEventListener("change", () => go({ status: statusSelect.value, offset: 0 }));
  const sizeSelect = h(
    "select",
    { id: "page-size", name: "limit" },
    [...new Set([...PAGE_SIZES, state.limit])]
      .sort((a, b) => a - b)
      .map((size) => h("option", { value: size, selected: size === state.limit }, size)),
  );
  sizeSelect.addEventListener("change", () => go({ limit: Number(sizeSelect.value), offset: 0 }));
  const body = h("div", { class: "jobs-body", "aria-busy": "true" });
  const alert = h("div", { class: "alert-region", role: "alert" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  main.append(
    h(
      "section",
      { class: "page" },
      h(
        "div",
        { class: "page-head" },
        h("h1", { tabindex: "-1" }, "Jobs"),
        h("a", { href: "#/new", class: "button primary" }, "New job"),
      ),
      h(
        "div",
        { class: "toolbar card" },
        h(
          "div",
          { class: "field inline" },
          h("label", { for: "status-filter" }, "Status"),
          statusSelect,
        ),
        h(
          "div",
          { class: "field inline" },
          h("label", { for: "page-size" }, "Per page"),
          sizeSelect,
        ),
      ),
      alert,
      h("div", { class: "card flush" }, body),
      pager,
    ),
  );

  let timer = null;
  let shown = null;
  signal.addEventListener("abort", () => clearTimeout(timer));

  // While a listed job is queued or running, the list refreshes itself.
  function scheduleRefresh(jobs) {
    if (jobs.some((job) => job.status === "queued" || job.status === "running")) {
      timer = setTimeout(load, REFRESH_MS);
    }
  }

  async function load() {
    try {
      const { data, count } = await api.listJobs(state, signal);
      if (signal.aborted) return;
      alert.replaceChildren();
      body.setAttribute("aria-busy", "false");
      if (!data.length && state.offset > 0 && count > 0) return go({ offset: 0 });
      scheduleRefresh(data);
      // Redraw only what changed, and keep the focus on the row it was on.
      const signature = JSON.stringify([count, data.map((j) => [j.id, j.status, j.progress])]);
      if (signature === shown) return;
      shown = signature;
      const focused = document.activeElement?.closest("[data-job-id]")?.dataset.jobId;
      body.replaceChildren(
        data.length
          ? table(data)
          : h(
              "p",
              { class: "empty", testid: "jobs-empty" },
              state.status ? `No ${state.status} jobs.` : "No jobs yet. ",
              state.status ? null : h("a", { href: "#/new" }, "Start a range test or a search."),
            ),
      );
      renderPager(count, data.length);
      if (focused) body.querySelector(`[data-job-id="${focused}"] a`)?.focus();
    } catch (error) {
      if (signal.aborted || error instanceof api.AuthError) return;
      // A dropped connection or a restarting server: say so, and keep trying by itself.
      showError(alert, error, "Lost the jobs list, retrying: ");
      clearTimeout(timer);
      timer = setTimeout(load, REFRESH_MS);
    }
  }

  function renderPager(count, shown) {
    const first = count ? state.offset + 1 : 0;
    const last = state.offset + shown;
    const previous = h(
      "button",
      { type: "button", class: "button", disabled: state.offset === 0 },
      "Previous",
    );
    const next = h("button", { type: "button", class: "button", disabled: last >= count }, "Next");
    previous.addEventListener("click", () =>
      go({ offset: Math.max(0, state.offset - state.limit) }),
    );
    next.addEventListener("click", () => go({ offset: state.offset + state.limit }));
    pager.replaceChildren(
      previous,
      h("span", { class: "muted", testid: "jobs-range" }, `${first}–${last} of ${count}`),
      next,
    );
  }

  load();
}
