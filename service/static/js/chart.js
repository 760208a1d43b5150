// Line charts drawn as SVG: a log or linear x axis (decade ticks on log), a linear y axis,
// lines, shaded bands and x ranges, labelled vertical markers, and a crosshair with a tooltip
// (pointer or arrow keys). Each chart redraws at its container's width, so text stays legible
// from a phone to a wide screen.

import { h, powerOfTen, s } from "./dom.js";

let clipCounter = 0;

// --- scales -------------------------------------------------------------------------------

function linearScale([d0, d1], [r0, r1]) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return {
    map: (v) => r0 + (v - d0) * k,
    invert: (p) => (k === 0 ? d0 : d0 + (p - r0) / k),
  };
}

function logScale([d0, d1], range) {
  const inner = linearScale([Math.log10(d0), Math.log10(d1)], range);
  return {
    map: (v) => inner.map(Math.log10(v)),
    invert: (p) => 10 ** inner.invert(p),
  };
}

/** Ticks at 1, 2 or 5 times a power of ten, about `count` of them inside [lo, hi]. */
function linearTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return { values: [lo], step: 1 };
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const n = raw / power;
  const step = (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * power;
  const values = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    values.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return { values, step };
}

/** Decade ticks (labelled) and 2..9 x decade minor ticks inside [lo, hi]. */
function logTicks(lo, hi) {
  const major = [];
  const minor = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    const decade = 10 ** k;
    if (decade >= lo * (1 - 1e-9) && decade <= hi * (1 + 1e-9)) major.push({ value: decade, k });
    for (let m = 2; m <= 9; m++) {
      const v = m * decade;
      if (v >= lo && v <= hi) minor.push({ value: v, m, k });
    }
  }
  return { major, minor };
}

function decimalsFor(step) {
  return Math.max(0, Math.min(8, -Math.floor(Math.log10(step) + 1e-9)));
}

function finitePairs(xs, ys, positiveX) {
  const pairs = [];
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const x = xs[i];
    const y = ys[i];
    if (Number.isFinite(x) && Number.isFinite(y) && (!positiveX || x > 0)) pairs.push([x, y, i]);
  }
  return pairs;
}

function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

// Far-off points (a diverged loss of 1e30) are clipped; keep their coordinates sane too.
const clampPixel = (p) => Math.max(-1e5, Math.min(1e5, p));

function pathThrough(points) {
  let d = "";
  let pen = "M";
  for (const point of points) {
    if (point === null) {
      pen = "M";
      continue;
    }
    d += `${pen}${clampPixel(point[0]).toFixed(1)},${clampPixel(point[1]).toFixed(1)}`;
    pen = "L";
  }
  return d;
}

// --- layout -------------------------------------------------------------------------------

const LABEL_CHAR_PX = 6.6;
const MARKER_ROW_PX = 15;

/** Put marker labels on rows so that none overlaps another. */
function markerRows(positions, labels) {
  const order = positions.map((p, i) => i).sort((a, b) => positions[a] - positions[b]);
  const rowEnds = [];
  const rows = new Array(positions.length);
  for (const i of order) {
    const half = (labels[i].length * LABEL_CHAR_PX) / 2 + 6;
    let row = rowEnds.findIndex((end) => end < positions[i] - half);
    if (row < 0) row = rowEnds.length;
    rowEnds[row] = positions[i] + half;
    rows[i] = row;
  }
  return { rows, count: rowEnds.length };
}

function autoDomain(options, positiveX) {
  const xs = [];
  const ys = [];
  for (const line of options.lines) {
    for (const [x, y] of finitePairs(line.x, line.y, positiveX)) {
      xs.push(x);
      if (line.inDomain !== false) ys.push(y);
    }
  }
  let [x0, x1] = options.x.domain || extent(xs);
  let [y0, y1] = options.y.domain || extent(ys);
  if (!Number.isFinite(x0)) [x0, x1] = positiveX ? [1e-4, 1] : [0, 1];
  if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
  if (x1 <= x0) [x0, x1] = positiveX ? [x0 / 2, x0 * 2] : [x0 - 1, x0 + 1];
  if (!options.y.domain) {
    const pad = (y1 - y0) * 0.06 || Math.abs(y0) * 0.1 || 1;
    y0 -= pad;
    y1 += pad;
    if (options.y.zero && Math.min(...ys) >= 0) y0 = 0;
  }
  return { x: [x0, x1], y: [y0, y1] };
}

// --- drawing ------------------------------------------------------------------------------

function drawAxes(svg, frame, scales, options, ticks) {
  const { left, top, right, bottom } = frame;
  const grid = s("g", { class: "grid", "aria-hidden": "true" });
  const axes = s("g", { class: "axes", "aria-hidden": "true" });
  for (const tick of ticks.x.major) {
    const px = scales.x.map(tick.value);
    grid.append(s("line", { x1: px, x2: px, y1: top, y2: bottom, class: "grid-major" }));
    axes.append(
      s("line", { x1: px, x2: px, y1: bottom, y2: bottom + 5, class: "tick" }),
      s(
        "text",
        { x: px, y: bottom + 18, class: "tick-label", "text-anchor": "middle" },
        tick.label,
      ),
    );
  }
  for (const tick of ticks.x.minor) {
    const px = scales.x.map(tick.value);
    grid.append(s("line", { x1: px, x2: px, y1: top, y2: bottom, class: "grid-minor" }));
    axes.append(s("line", { x1: px, x2: px, y1: bottom, y2: bottom + 3, class: "tick" }));
    if (tick.label) {
      axes.append(
        s(
          "text",
          { x: px, y: bottom + 18, class: "tick-label minor", "text-anchor": "middle" },
          tick.label,
        ),
      );
    }
  }
  for (const tick of ticks.y) {
    const py = scales.y.map(tick.value);
    grid.append(s("line", { x1: left, x2: right, y1: py, y2: py, class: "grid-major" }));
    axes.append(
      s("line", { x1: left - 5, x2: left, y1: py, y2: py, class: "tick" }),
      s("text", { x: left - 8, y: py + 4, class: "tick-label", "text-anchor": "end" }, tick.label),
    );
  }
  axes.append(
    s("rect", { x: left, y: top, width: right - left, height: bottom - top, class: "frame" }),
    s(
      "text",
      { x: (left + right) / 2, y: bottom + 38, class: "axis-label", "text-anchor": "middle" },
      options.x.label,
    ),
    s(
      "text",
      {
        x: 0,
        y: 0,
        class: "axis-label",
        "text-anchor": "middle",
        transform: `translate(${left - options.yLabelOffset},${(top + bottom) / 2}) rotate(-90)`,
      },
      options.y.label,
    ),
  );
  svg.append(grid, axes);
}

function xTicks(options, domain) {
  if (options.x.scale !== "log") {
    const { values, step } = linearTicks(domain[0], domain[1], options.xTickCount);
    const format = options.x.format || ((v) => v.toFixed(decimalsFor(step)));
    return { major: values.map((value) => ({ value, label: format(value) })), minor: [] };
  }
  const { major, minor } = logTicks(domain[0], domain[1]);
  const labelMinor = major.length < 2;
  return {
    major: major.map((t) => ({ value: t.value, label: powerOfTen(t.k) })),
    minor: minor.map((t) => ({
      value: t.value,
      label: labelMinor && (t.m === 2 || t.m === 5) ? `${t.m}·${powerOfTen(t.k)}` : null,
    })),
  };
}

function yTicks(options, domain) {
  const { values, step } = linearTicks(domain[0], domain[1], options.yTickCount);
  const format = options.y.format || ((v) => v.toFixed(decimalsFor(step)));
  return values.map((value) => ({ value, label: format(value) }));
}

function drawSeries(svg, frame, scales, options, clipId) {
  const plot = s("g", { "clip-path": `url(#${clipId})` });
  const project = (x, y) => [scales.x.map(x), scales.y.map(y)];
  const positiveX = options.x.scale === "log";
  for (const range of options.ranges) {
    if (!(range.from > 0 || !positiveX) || !(range.to > range.from)) continue;
    const x0 = scales.x.map(range.from);
    const x1 = scales.x.map(range.to);
    plot.append(
      s(
        "g",
        { class: `range ${range.className || ""}`, testid: range.testid, ...range.data },
        s("rect", {
          x: x0,
          y: frame.top,
          width: Math.max(x1 - x0, 1),
          height: frame.bottom - frame.top,
        }),
        s("line", { x1: x0, x2: x0, y1: frame.top, y2: frame.bottom, class: "range-edge" }),
        s("line", { x1: x1, x2: x1, y1: frame.top, y2: frame.bottom, class: "range-edge" }),
        range.label
          ? s(
              "text",
              {
                x: (x0 + x1) / 2,
                y: frame.bottom - 8,
                class: "range-label",
                "text-anchor": "middle",
              },
              range.label,
            )
          : null,
      ),
    );
  }
  for (const band of options.bands) {
    const upper = [];
    const lower = [];
    const n = Math.min(band.x.length, band.lower.length, band.upper.length);
    const segments = [];
    for (let i = 0; i <= n; i++) {
      const ok =
        i < n &&
        Number.isFinite(band.x[i]) &&
        (!positiveX || band.x[i] > 0) &&
        Number.isFinite(band.lower[i]) &&
        Number.isFinite(band.upper[i]);
      if (ok) {
        upper.push(project(band.x[i], band.upper[i]));
        lower.push(project(band.x[i], band.lower[i]));
      } else if (upper.length) {
        segments.push(pathThrough([...upper, ...lower.reverse()]) + "Z");
        upper.length = 0;
        lower.length = 0;
      }
    }
    plot.append(
      s("path", {
        d: segments.join(""),
        class: `band ${band.className || ""}`,
        testid: band.testid,
      }),
    );
  }
  for (const line of options.lines) {
    const points = [];
    const n = Math.min(line.x.length, line.y.length);
    for (let i = 0; i < n; i++) {
      const ok =
        Number.isFinite(line.x[i]) && Number.isFinite(line.y[i]) && (!positiveX || line.x[i] > 0);
      points.push(ok ? project(line.x[i], line.y[i]) : null);
    }
    plot.append(
      s("path", {
        d: pathThrough(points),
        class: `line ${line.className || ""}`,
        testid: line.testid,
      }),
    );
    if (line.dots) {
      const dots = s("g", { class: `dots ${line.className || ""}` });
      for (const point of points) {
        if (point) dots.append(s("circle", { cx: point[0], cy: point[1], r: 2.2 }));
      }
      plot.append(dots);
    }
  }
  svg.append(plot);
}

function drawMarkers(svg, frame, scales, markers, rows) {
  const layer = s("g", { class: "markers" });
  // Labels above every line, each with a halo, so a line never runs through a label.
  const labels = s("g", { class: "marker-labels" });
  markers.forEach((marker, i) => {
    const px = scales.x.map(marker.x);
    const py = Number.isFinite(marker.y) ? scales.y.map(marker.y) : NaN;
    const labelY = frame.top - 6 - rows[i] * MARKER_ROW_PX;
    const half = (marker.label.length * LABEL_CHAR_PX) / 2;
    const labelX = Math.max(half + 2, Math.min(frame.width - half - 2, px));
    const className = marker.className || "";
    layer.append(
      s(
        "g",
        { class: `marker ${className}`, testid: marker.testid, ...marker.data },
        s("line", { x1: px, x2: px, y1: labelY + 3, y2: frame.bottom, class: "marker-line" }),
        py >= frame.top && py <= frame.bottom
          ? s("circle", { cx: px, cy: py, r: 4.5, class: "marker-dot" })
          : null,
      ),
    );
    labels.append(
      s(
        "text",
        {
          x: labelX,
          y: labelY,
          class: `marker-label ${className}`,
          "text-anchor": "middle",
          testid: marker.testid && `${marker.testid}-label`,
          ...marker.data,
        },
        marker.label,
      ),
    );
  });
  svg.append(layer, labels);
}

// --- crosshair ----------------------------------------------------------------------------

function nearestIndex(pairs, x, log) {
  const key = log ? Math.log10 : (v) => v;
  let best = -1;
  let bestDistance = Infinity;
  for (let i = 0; i < pairs.length; i++) {
    const distance = Math.abs(key(pairs[i][0]) - key(x));
    if (distance < bestDistance) {
      best = i;
      bestDistance = distance;
    }
  }
  return best;
}

function attachCrosshair(figure, svg, frame, scales, options) {
  const log = options.x.scale === "log";
  const series = options.lines
    .filter((line) => line.tooltip !== false)
    .map((line) => ({ line, pairs: finitePairs(line.x, line.y, log) }))
    .filter((entry) => entry.pairs.length);
  if (!series.length) return;
  const primary = series[0];
  const layer = s("g", { class: "crosshair", testid: "crosshair", visibility: "hidden" });
  const rule = s("line", { y1: frame.top, y2: frame.bottom, class: "crosshair-line" });
  const dots = series.map((entry) =>
    s("circle", { r: 3.5, class: `crosshair-dot ${entry.line.className || ""}` }),
  );
  layer.append(rule, ...dots);
  svg.append(layer);
  const tooltip = figure.querySelector(".tooltip");
  const xFormat = options.x.tooltipFormat || options.x.format || String;
  let index = Math.floor(primary.pairs.length / 2);

  const show = (i) => {
    index = Math.max(0, Math.min(primary.pairs.length - 1, i));
    const x = primary.pairs[index][0];
    const px = scales.x.map(x);
    rule.setAttribute("x1", px);
    rule.setAttribute("x2", px);
    const rows = [h("div", { class: "tooltip-x" }, `${options.x.name || "x"} ${xFormat(x)}`)];
    series.forEach((entry, k) => {
      const j = entry === primary ? index : nearestIndex(entry.pairs, x, log);
      const [sx, sy] = entry.pairs[j];
      const near = Math.abs(scales.x.map(sx) - px) <= (entry === primary ? Infinity : 14);
      dots[k].setAttribute("visibility", near ? "visible" : "hidden");
      if (!near) return;
      dots[k].setAttribute("cx", scales.x.map(sx));
      dots[k].setAttribute("cy", Math.max(frame.top, Math.min(frame.bottom, scales.y.map(sy))));
      const format = entry.line.format || options.y.format || ((v) => v.toPrecision(4));
      rows.push(
        h(
          "div",
          {},
          h("span", { class: `swatch line ${entry.line.className || ""}` }),
          `${entry.line.label} `,
          h("strong", {}, format(sy)),
        ),
      );
    });
    tooltip.replaceChildren(...rows);
    tooltip.hidden = false;
    // Beside the point, on the side with more room, so it never hides what it describes.
    const fraction = px / frame.width;
    const py = Math.max(frame.top, Math.min(frame.bottom, scales.y.map(primary.pairs[index][1])));
    tooltip.style.left = `${(fraction * 100).toFixed(2)}%`;
    tooltip.style.top = `${py.toFixed(1)}px`;
    tooltip.classList.toggle("flip", fraction > 0.6);
    tooltip.classList.toggle("above", py > (frame.top + frame.bottom) / 2);
    layer.setAttribute("visibility", "visible");
  };
  const hide = () => {
    tooltip.hidden = true;
    layer.setAttribute("visibility", "hidden");
  };
  const toSvgX = (event) => {
    const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(
      svg.getScreenCTM().inverse(),
    );
    return point.x;
  };
  svg.addEventListener("pointermove", (event) => {
    const px = toSvgX(event);
    if (px < frame.left || px > frame.right) return hide();
    show(nearestIndex(primary.pairs, scales.x.invert(px), log));
  });
  svg.addEventListener("pointerleave", hide);
  figure.onkeydown = (event) => {
    const steps = { ArrowLeft: -1, ArrowRight: 1, PageDown: -10, PageUp: 10 };
    if (event.key in steps) show(index + steps[event.key] * (event.shiftKey ? 10 : 1));
    else if (event.key === "Home") show(0);
    else if (event.key === "End") show(primary.pairs.length - 1);
    else if (event.key === "Escape") hide();
    else return;
    event.preventDefault();
  };
  figure.onfocus = () => show(index);
  figure.onblur = hide;
}

// --- public -------------------------------------------------------------------------------

const DEFAULTS = {
  height: 360,
  margin: { top: 16, right: 16, bottom: 50, left: 64 },
  yLabelOffset: 48,
  xTickCount: 6,
  yTickCount: 5,
  ranges: [],
  bands: [],
  lines: [],
  markers: [],
  legend: [],
};

function draw(figure, options, width) {
  const positiveX = options.x.scale === "log";
  const domain = autoDomain(options, positiveX);
  const margin = { ...options.margin };
  // Wide: a landscape chart; narrow (a phone): nearly square, so the curve is not squashed.
  const aspect = width < 600 ? 0.9 : 0.62;
  const height = Math.round(
    Math.min(options.height, Math.max(options.minHeight || 180, width * aspect)),
  );
  const makeX = positiveX ? logScale : linearScale;
  const scaleX = makeX(domain.x, [margin.left, width - margin.right]);
  const markers = options.markers.filter((m) => Number.isFinite(m.x) && (!positiveX || m.x > 0));
  const { rows, count } = markerRows(
    markers.map((m) => scaleX.map(m.x)),
    markers.map((m) => m.label),
  );
  margin.top += count * MARKER_ROW_PX;
  const frame = {
    left: margin.left,
    right: width - margin.right,
    top: margin.top,
    bottom: height - margin.bottom,
    width,
  };
  const scales = { x: scaleX, y: linearScale(domain.y, [frame.bottom, frame.top]) };
  const clipId = `chart-clip-${++clipCounter}`;
  const svg = s("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: "chart-svg",
    role: "img",
    "aria-label": options.title,
    testid: options.testid,
  });
  svg.append(
    s(
      "defs",
      {},
      s(
        "clipPath",
        { id: clipId },
        s("rect", {
          x: frame.left,
          y: frame.top,
          width: frame.right - frame.left,
          height: frame.bottom - frame.top,
        }),
      ),
    ),
  );
  const ticks = { x: xTicks(options, domain.x), y: yTicks(options, domain.y) };
  // Many decades on a narrow chart: label every other one so the labels do not collide.
  const major = ticks.x.major;
  if (
    positiveX &&
    major.length > 1 &&
    scaleX.map(major[1].value) - scaleX.map(major[0].value) < 36
  ) {
    major.forEach((tick, i) => {
      if (i % 2) tick.label = "";
    });
  }
  drawAxes(svg, frame, scales, options, ticks);
  drawSeries(svg, frame, scales, options, clipId);
  drawMarkers(svg, frame, scales, markers, rows);
  figure.querySelector(".chart-svg")?.remove();
  figure.querySelector(".plot-area").prepend(svg);
  attachCrosshair(figure, svg, frame, scales, options);
}

function legendList(items) {
  if (!items.length) return null;
  return h(
    "ul",
    { class: "legend" },
    items.map((item) =>
      h(
        "li",
        {},
        h("span", { class: `swatch ${item.kind || "line"} ${item.className || ""}` }),
        item.label,
      ),
    ),
  );
}

/**
 * A chart in a `<figure>`: `{x: {scale, label, name, format}, y: {label, format, domain},
 * lines: [{x, y, label, className, testid, dots, tooltip, inDomain}], bands: [{x, lower,
 * upper}], ranges: [{from, to, label}], markers: [{x, y, label}], legend: [{label, kind,
 * className}], title, testid, caption}`.
 */
export function createChart(userOptions) {
  const options = { ...DEFAULTS, ...userOptions };
  const tooltip = h("div", { class: "tooltip", role: "status" });
  tooltip.hidden = true;
  const figure = h(
    "figure",
    {
      class: `chart ${options.className || ""}`,
      tabindex: "0",
      "aria-label": `${options.title}. Arrow keys move the crosshair.`,
    },
    h("div", { class: "plot-area" }, tooltip),
    legendList(options.legend),
    options.caption ? h("figcaption", {}, options.caption) : null,
  );
  let drawnWidth = 0;
  const observer = new ResizeObserver((entries) => {
    const width = Math.floor(entries[0].contentRect.width);
    if (width > 0 && Math.abs(width - drawnWidth) >= 2) {
      drawnWidth = width;
      draw(figure, options, width);
    }
  });
  observer.observe(figure);
  return figure;
}
