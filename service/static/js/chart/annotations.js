// What uPlot has no notion of: shaded x ranges with a label, and vertical markers labelled above
// the plot, their labels on as many rows as it takes for none to overlap another. They are
// HTML in uPlot's overlay, placed through its scales after each draw, so the stylesheet colours
// them and the page's tests can read them.

import { h } from "../dom.js";

const LABEL_CHAR_PX = 6.6;
const ROW_PX = 15;

function usable(x, positiveX) {
  return Number.isFinite(x) && (!positiveX || x > 0);
}

/** A function of the chart's width giving each marker's label row and the height of the rows,
 * from the markers' share of the x domain (the plot's own margins barely move them). */
export function annotationRows(options, [x0, x1], positiveX) {
  const key = positiveX ? Math.log10 : (v) => v;
  const markers = options.markers.filter((m) => usable(m.x, positiveX));
  let cached = { width: -1 };
  return (width) => {
    if (cached.width === width) return cached;
    const plot = Math.max(width - 80, 1);
    const positions = markers.map((m) => ((key(m.x) - key(x0)) / (key(x1) - key(x0))) * plot);
    const order = positions.map((p, i) => i).sort((a, b) => positions[a] - positions[b]);
    const rowEnds = [];
    const rows = new Array(markers.length);
    for (const i of order) {
      const half = (markers[i].label.length * LABEL_CHAR_PX) / 2 + 6;
      let row = rowEnds.findIndex((end) => end < positions[i] - half);
      if (row < 0) row = rowEnds.length;
      rowEnds[row] = positions[i] + half;
      rows[i] = row;
    }
    cached = { width, rows, height: rowEnds.length * ROW_PX };
    return cached;
  };
}

const px = (v) => `${v.toFixed(1)}px`;

/** The ranges and markers as elements in one layer, and `layout(u)` to place them. */
export function createAnnotations(options, rows) {
  const positiveX = options.x.scale === "log";
  const ranges = options.ranges
    .filter((r) => usable(r.from, positiveX) && r.to > r.from)
    .map((range) => ({
      range,
      element: h(
        "div",
        { class: `range ${range.className || ""}`, testid: range.testid, ...range.data },
        range.label ? h("span", { class: "range-label" }, range.label) : null,
      ),
    }));
  const markers = options.markers
    .filter((m) => usable(m.x, positiveX))
    .map((marker) => {
      const className = marker.className || "";
      return {
        marker,
        element: h(
          "div",
          { class: `marker ${className}`, testid: marker.testid, ...marker.data },
          h("span", { class: "marker-line" }),
          h("span", { class: "marker-dot" }),
        ),
        label: h(
          "span",
          {
            class: `marker-label ${className}`,
            testid: marker.testid && `${marker.testid}-label`,
            ...marker.data,
          },
          marker.label,
        ),
      };
    });
  // Labels after every line, so a line never runs over a label.
  const layer = h(
    "div",
    { class: "annotations" },
    ranges.map((r) => r.element),
    markers.map((m) => m.element),
    markers.map((m) => m.label),
  );

  const layout = (u) => {
    const height = u.over.clientHeight;
    const plotLeft = u.over.offsetLeft;
    // A range is cut at the plot's edges.
    const inside = (x) => Math.max(0, Math.min(u.over.clientWidth, u.valToPos(x, "x")));
    for (const { range, element } of ranges) {
      const left = inside(range.from);
      element.style.left = px(left);
      element.style.width = px(Math.max(inside(range.to) - left, 1));
    }
    const { rows: row } = rows(u.width);
    markers.forEach(({ marker, element, label }, i) => {
      const x = u.valToPos(marker.x, "x");
      const labelY = -6 - row[i] * ROW_PX;
      element.style.left = px(x);
      element.firstChild.style.top = px(labelY + 3);
      const y = Number.isFinite(marker.y) ? u.valToPos(marker.y, "y") : NaN;
      element.lastChild.hidden = !(y >= 0 && y <= height);
      element.lastChild.style.top = px(y || 0);
      // Inside the chart's width even for a marker at the plot's edge.
      const half = (marker.label.length * LABEL_CHAR_PX) / 2;
      const least = half + 2 - plotLeft;
      label.style.left = px(Math.max(least, Math.min(u.width - plotLeft - half - 2, x)));
      label.style.top = px(labelY);
    });
  };
  return { layer, layout };
}
