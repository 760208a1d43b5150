"""What the dashboard's charts plot, read back from the page for the browser tests.

A chart is a `<figure>` whose uPlot instance is `figure.uplot`: its aligned data says what each
series plots (a series carries the `testid` the dashboard gave its line or band), its scales
say where a value lands, and its canvas says what was drawn there. The ranges and markers are
HTML over the plot, placed here from the scale's ends, independently of the page's own layout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest
from playwright.sync_api import Locator

Pairs = list[tuple[float, float | None]]

# Each series' (x, y) points, by testid: one list per series (a band has its upper and lower
# edges); y is null at a gap, and rows that belong to another series' x are left out.
PLOTTED = """(figure) => {
  const u = figure.uplot;
  const plotted = {};
  u.series.forEach((series, i) => {
    if (i === 0) return;
    const pairs = [];
    u.data[0].forEach((x, j) => {
      if (u.data[i][j] !== undefined) pairs.push([x, u.data[i][j]]);
    });
    (plotted[series.testid] ??= []).push(pairs);
  });
  return plotted;
}"""

# The drawn colour nearest the series' own within 2 px of its middle visible point: the
# distance between the two (RGB), and the point's canvas coordinates.
DRAWN = """(figure, testid) => {
  const u = figure.uplot;
  const i = u.series.findIndex((series) => series.testid === testid);
  const { min, max } = u.scales.y;
  const shown = (y) => y != null && y >= min && y <= max;
  const rows = [...u.data[0].keys()].filter((j) => shown(u.data[i][j]));
  const j = rows[Math.floor(rows.length / 2)];
  const x = Math.round(u.valToPos(u.data[0][j], "x", true));
  const y = Math.round(u.valToPos(u.data[i][j], "y", true));
  const want = u.series[i]._stroke.match(/\\d+/g).map(Number);
  const pixels = u.ctx.getImageData(x - 2, y - 2, 5, 5).data;
  let best = Infinity;
  for (let k = 0; k < pixels.length; k += 4) {
    const d = Math.hypot(pixels[k] - want[0], pixels[k + 1] - want[1], pixels[k + 2] - want[2]);
    if (pixels[k + 3] > 200) best = Math.min(best, d);
  }
  return { distance: best, x, y };
}"""


# The chart is built on its figure's first resize: wait for it.
BUILT = """(figure) => new Promise((resolve) => {
  const check = () => (figure.uplot ? resolve() : requestAnimationFrame(check));
  check();
})"""


def plotted(chart: Locator) -> dict[str, list[Pairs]]:
    """The chart's series as uPlot holds them, by testid."""
    chart.evaluate(BUILT)
    return {
        testid: [[(x, y) for x, y in pairs] for pairs in series]
        for testid, series in chart.evaluate(PLOTTED).items()
    }


def expected(xs: Sequence[float | None], ys: Sequence[float | None], log_x: bool) -> Pairs:
    """The points a chart should plot from the API's arrays: those with a usable x, in x order,
    a gap where y is not a number."""
    pairs = [
        (x, y if y is not None and math.isfinite(y) else None)
        for x, y in zip(xs, ys, strict=True)
        if x is not None and math.isfinite(x) and (x > 0 or not log_x)
    ]
    return sorted(pairs, key=lambda pair: pair[0])


def assert_plots(series: Pairs, xs: Any, ys: Any, *, log_x: bool = True) -> None:
    want = expected(xs, ys, log_x)
    assert want, "nothing to plot"
    assert [x for x, _ in series] == pytest.approx([x for x, _ in want])
    assert [y for _, y in series] == [pytest.approx(y) if y is not None else None for _, y in want]


def assert_drawn(chart: Locator, testid: str) -> None:
    """The canvas shows the series' colour where the series has a point."""
    chart.evaluate(BUILT)
    drawn = chart.evaluate(DRAWN, testid)
    assert drawn["distance"] < 40, drawn


def x_on_page(chart: Locator, value: float) -> float:
    """Where `value` lands on the page, from the plot's box and the x scale's ends (log)."""
    box = chart.locator(".u-over").bounding_box()
    assert box is not None
    low, high = chart.evaluate("(figure) => [figure.uplot.scales.x.min, figure.uplot.scales.x.max]")
    share = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
    return float(box["x"] + share * box["width"])
