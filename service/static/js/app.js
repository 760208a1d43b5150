// The dashboard's entry point: hash routing (#/jobs, #/jobs/<id>, #/new) behind the key form.

import * as api from "./api.js";
import { clear } from "./dom.js";
import { renderJob } from "./views/job.js";
import { renderJobs } from "./views/jobs.js";
import { renderKeyForm } from "./views/key.js";
import { renderNewJob } from "./views/new.js";

const ROUTES = [
  {
    pattern: /^#\/jobs\/([0-9A-Za-z_-]+)$/,
    nav: "jobs",
    view: (main, ctx, [id]) => renderJob(main, ctx, id),
  },
  {
    pattern: /^#\/new(?:\?(.*))?$/,
    nav: "new",
    view: (main, ctx, [query]) => renderNewJob(main, ctx, query),
  },
  {
    pattern: /^#\/jobs(?:\?(.*))?$/,
    nav: "jobs",
    view: (main, ctx, [query]) => renderJobs(main, ctx, query),
  },
];

const main = document.getElementById("main");
let controller = new AbortController();
let keyFormShown = false;

function stopView() {
  controller.abort();
  controller = new AbortController();
  return controller.signal;
}

function updateKeyStatus() {
  document.getElementById("key-status").hidden = !api.getKey();
}

function markNav(name) {
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function route(event) {
  if (keyFormShown) return;
  const hash = location.hash || "#/jobs";
  const signal = stopView();
  for (const { pattern, nav, view } of ROUTES) {
    const match = hash.match(pattern);
    if (!match) continue;
    markNav(nav);
    clear(main);
    view(main, { signal }, match.slice(1));
    // Views draw their heading first: a navigation moves focus there, as a page load would.
    if (event) main.querySelector("h1")?.focus({ preventScroll: true });
    return;
  }
  location.replace("#/jobs");
}

function showKeyForm(message) {
  keyFormShown = true;
  stopView();
  api.forgetKey();
  updateKeyStatus();
  markNav(null);
  clear(main);
  renderKeyForm(main, {
    message,
    onAccepted(key) {
      api.setKey(key);
      keyFormShown = false;
      updateKeyStatus();
      route(new Event("keyaccepted"));
    },
  });
}

api.onUnauthorized((error) => {
  if (!keyFormShown)
    showKeyForm(api.getKey() ? "The service refused the key: enter it again." : error.message);
});

document
  .getElementById("forget-key")
  .addEventListener("click", () => showKeyForm("Key forgotten."));
window.addEventListener("hashchange", route);

async function start() {
  updateKeyStatus();
  try {
    // With no key configured the service answers without one: no form then.
    if (await api.accepts(api.getKey())) return route(null);
    showKeyForm(api.getKey() ? "The service refused the stored key." : null);
  } catch (error) {
    clear(main).append(
      Object.assign(document.createElement("p"), {
        className: "alert",
        textContent: `The service did not answer: ${error.message}`,
      }),
    );
  }
}

start();
