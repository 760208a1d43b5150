// Line charts on uPlot (vendor/uplot): a log or linear x axis, a linear y axis, lines with gaps,
// shaded bands, a crosshair with a tooltip (pointer or arrow keys), redrawn at the container's
// width. uPlot draws on a canvas; the x ranges and the labelled vertical markers it has no
// notion of are positioned HTML in its overlay (chart/annotations.js). Colours and sizes come
// from the stylesheet's custom properties, so the canvas follows the page's theme.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { annotationRows, createAnnotations } from "./chart/annotations.js";
import { axes } from "./chart/axes.js";
import { attachKeys, showTooltip } from "./chart/crosshair.js";
import { h } from "./dom.js";

let captionCounter = 0;

// --- data -----------------------------------------------------------------------------------

/** One table per line or band, joined on x: rows with a usable x, a gap (null) where y is not
 * finite. Lines with other x values (the validation curve) hold undefined between their points,
 * which uPlot draws through. */
function alignedData(options, positiveX) {
  const usable = (x) => Number.isFinite(x) && (!positiveX || x > 0);
  const table = (xs, ...columns) => {
    const rows = [...xs.keys()].filter((i) => usable(xs[i]) && columns.every((c) => i < c.length));
    return [
      rows.map((i) => xs[i]),
      ...columns.map((ys) => rows.map((i) => (Number.isFinite(ys[i]) ? ys[i] : null))),
    ];
  };
  // The bands first: their edges are drawn first, under the lines.
  const tables = [
    ...options.bands.map((band) => table(band.x, band.upper, band.lower)),
    ...options.lines.map((line) => table(line.x, line.y)),
  ];
  return tables.length ? uPlot.join(tables) : [[]];
}

function extent(columns) {
  const values = columns.flat().filter((v) => v != null);
  return values.length ? [Math.min(...values), Math.max(...values)] : [NaN, NaN];
}

/** The scales' ranges: the caller's, else the data's (y padded a little, or from zero). */
function domains(options, data, positiveX) {
  const lineColumns = data.slice(1 + 2 * options.bands.length);
  let [x0, x1] = options.x.domain || extent([data[0]]);
  let [y0, y1] = options.y.domain || extent(lineColumns);
  if (!Number.isFinite(x0)) [x0, x1] = positiveX ? [1e-4, 1] : [0, 1];
  if (x1 <= x0) [x0, x1] = positiveX ? [x0 / 2, x0 * 2] : [x0 - 1, x0 + 1];
  if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
  if (!options.y.domain) {
    const pad = (y1 - y0) * 0.06 || Math.abs(y0) * 0.1 || 1;
    [y0, y1] = [options.y.zero && y0 >= 0 ? 0 : y0 - pad, y1 + pad];
  }
  return { x: [x0, x1], y: [y0, y1] };
}

// --- style ----------------------------------------------------------------------------------

/** The stylesheet's colour for a series class (its `--c`), as rgb()/rgba(). */
function colorOf(figure, className, alpha = 1) {
  const probe = h("span", { class: `chart-probe ${className || ""}` });
  figure.append(probe);
  const color = getComputedStyle(probe).color;
  probe.remove();
  return alpha === 1 ? color : color.replace(/^rgb\((.*)\)$/, `rgba($1, ${alpha})`);
}

function theme(figure) {
  const style = getComputedStyle(figure);
  const value = (name) => style.getPropertyValue(name).trim();
  return {
    text: value("--chart-text"),
    grid: value("--chart-grid"),
    gridMinor: value("--chart-grid-minor"),
    tick: value("--chart-tick"),
    surface: value("--surface"),
    font: `${value("--chart-tick-size")} ${style.fontFamily}`,
    labelFont: `600 ${value("--chart-label-size")} ${style.fontFamily}`,
  };
}

// --- public ---------------------------------------------------------------------------------

const DEFAULTS = {
  height: 360,
  minHeight: 180,
  top: 16,
  xTickCount: 6,
  yTickCount: 5,
  ranges: [],
  bands: [],
  lines: [],
  markers: [],
  legend: [],
};

/** Wide: a landscape chart; narrow (a phone): nearly square, so the curve is not squashed. */
function heightFor(options, width) {
  const aspect = width < 600 ? 0.9 : 0.62;
  return Math.round(Math.min(options.height, Math.max(options.minHeight, width * aspect)));
}

function build(figure, options, size) {
  const positiveX = options.x.scale === "log";
  const data = alignedData(options, positiveX);
  const domain = domains(options, data, positiveX);
  const style = theme(figure);
  const series = [{}];
  // A band is the area between two series drawn as nothing themselves.
  const edge = { width: 0, points: { show: false }, tooltip: false, class: "band-edge" };
  const bands = options.bands.map((band) => {
    series.push({ ...edge, label: "upper", testid: band.testid });
    series.push({ ...edge, label: "lower", testid: band.testid });
    const fill = colorOf(figure, band.className, 0.16);
    return { series: [series.length - 2, series.length - 1], fill };
  });
  for (const line of options.lines) {
    const color = colorOf(figure, line.className);
    series.push({
      label: line.label,
      testid: line.testid,
      className: line.className,
      format: line.format,
      tooltip: line.tooltip,
      stroke: color,
      width: line.width || 1.6,
      // Unrounded points: a smooth curve, not a staircase.
      pxAlign: 0,
      points: { show: Boolean(line.dots), size: 5, fill: color, stroke: style.surface, width: 1 },
    });
  }
  const plotArea = figure.querySelector(".plot-area");
  const tooltip = plotArea.querySelector(".tooltip");
  const rows = annotationRows(options, domain.x, positiveX);
  const annotations = createAnnotations(options, rows);
  const u = new uPlot(
    {
      ...size,
      padding: [(self) => options.top + rows(self.width).height, 16, 0, 0],
      scales: {
        x: { time: false, auto: false, distr: positiveX ? 3 : 1, log: 10, range: () => domain.x },
        y: { auto: false, range: () => domain.y },
      },
      axes: axes(options, style),
      series,
      bands,
      legend: { show: false },
      cursor: {
        y: false,
        drag: { x: false, y: false, setScale: false },
        hover: { prox: 14 },
        points: {
          size: 8,
          width: 2,
          fill: style.surface,
          stroke: (self, i) => self.series[i]._stroke,
        },
      },
      hooks: {
        draw: [annotations.layout],
        setCursor: [(self) => showTooltip(self, options, tooltip)],
      },
    },
    data,
    plotArea,
  );
  u.over.append(annotations.layer);
  // The figure's label and caption speak for the canvas and the labels drawn over it.
  u.root.setAttribute("aria-hidden", "true");
  attachKeys(figure, u);
  return u;
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
 * A chart in a `<figure>`: `{x: {scale, label, name, format, tooltipFormat}, y: {label, format,
 * domain, zero}, lines: [{x, y, label, className, width, testid, dots, tooltip, format}],
 * bands: [{x, lower, upper, className, testid}], ranges: [{from, to, label, className, testid,
 * data}], markers: [{x, y, label, className, testid, data}], legend: [{label, kind, className}],
 * title, summary (the text alternative), testid}`. Its uPlot instance is `figure.uplot` once
 * the figure has a width.
 */
export function createChart(userOptions) {
  const options = { ...DEFAULTS, ...userOptions };
  const captionId = `chart-caption-${++captionCounter}`;
  const tooltip = h("div", { class: "tooltip", role: "status" });
  tooltip.hidden = true;
  const figure = h(
    "figure",
    {
      class: `chart ${options.className || ""}`,
      tabindex: "0",
      testid: options.testid,
      "aria-label": `${options.title}. Arrow keys move the crosshair.`,
      "aria-describedby": options.summary ? captionId : null,
    },
    h("div", { class: "plot-area" }, tooltip),
    legendList(options.legend),
    options.summary ? h("figcaption", { id: captionId, class: "sr-only" }, options.summary) : null,
  );
  let drawnWidth = 0;
  new ResizeObserver((entries) => {
    const width = Math.floor(entries[0].contentRect.width);
    if (width <= 0 || Math.abs(width - drawnWidth) < 2) return;
    drawnWidth = width;
    const size = { width, height: heightFor(options, width) };
    if (figure.uplot) figure.uplot.setSize(size);
    else figure.uplot = build(figure, options, size);
  }).observe(figure);
  return figure;
}
