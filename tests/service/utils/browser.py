"""Debian's Chromium driven by Playwright, for the dashboard's tests and its screenshot.

Playwright's own browser downloads are never used (`playwright install` needs the internet):
`scripts/test.sh` installs the `chromium` package, and the browser runs headless with
everything that would reach out to the network switched off.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Records what the job view's live panel shows, as the page shows it: each change of its
# status, step count or phase (the panel carries them as data-status / data-steps-done /
# data-phase), with the phase marked current and the progress message shown then.
RECORD_PROGRESS = """
window.finderProgress = [];
new MutationObserver((records) => {
  for (const record of records) {
    const panel = record.target;
    if (panel.dataset.testid !== "live") continue;
    const text = (testid) => panel.querySelector(`[data-testid="${testid}"]`)?.textContent;
    window.finderProgress.push({
      status: panel.dataset.status,
      steps: Number(panel.dataset.stepsDone),
      phase: panel.dataset.phase || null,
      currentPhase: panel.querySelector('[aria-current="step"]')?.dataset.phase || null,
      text: text("progress-text"),
      message: text("progress-message"),
    });
  }
}).observe(document, {
  subtree: true,
  attributes: true,
  attributeFilter: ["data-status", "data-steps-done", "data-phase"],
});
"""


def set_key_script(key: str) -> str:
    """An init script that stores `key` where the dashboard keeps it, before the page runs
    (about:blank, which every tab starts on, has no storage)."""
    return f"if (location.protocol === 'http:') sessionStorage.setItem('finder.apiKey', {key!r});"
