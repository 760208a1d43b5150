// The charts' axes on uPlot: decade ticks on a log axis (labelled 10⁻³, with a fainter grid at
// the 2..9 multiples), steps of 1, 2 or 5 times a power of ten on a linear one, and a y axis as
// wide as its labels. Colours and fonts come from the stylesheet (see chart.js, theme).

import { powerOfTen } from "../dom.js";

// Tick steps of 1, 2 or 5 times a power of ten, so labels need no more digits than the step.
const TICK_STEPS = [];
for (let k = -12; k <= 12; k++) for (const m of [1, 2, 5]) TICK_STEPS.push(Number(`${m}e${k}`));

const decimalsFor = (step) => Math.max(0, Math.min(8, -Math.floor(Math.log10(step) + 1e-9)));

/** A value's power of ten and leading digit: 2e-3 -> [-3, 2]. */
function decade(v) {
  const k = Math.floor(Math.log10(v) + 1e-9);
  return [k, Math.round(v / 10 ** k)];
}

/** Decade labels (every other one when they would crowd); 2· and 5· too within one decade. */
function logLabels(u, splits) {
  const decades = splits.filter((v) => decade(v)[1] === 1);
  const crowded =
    decades.length > 1 && u.valToPos(decades[1], "x") - u.valToPos(decades[0], "x") < 36;
  return splits.map((v) => {
    const [k, m] = decade(v);
    if (m === 1) return crowded && decades.indexOf(v) % 2 ? null : powerOfTen(k);
    return decades.length < 2 && (m === 2 || m === 5) ? `${m}·${powerOfTen(k)}` : null;
  });
}

function numberLabels(format) {
  return (u, splits, axisIdx, space, step) =>
    splits.map((v) => (format ? format(v) : v.toFixed(decimalsFor(step))));
}

/** The y axis: as wide as its longest label. */
function ySize(u, values) {
  const longest = Math.max(3, ...(values || []).map((v) => String(v ?? "").length));
  return Math.ceil(longest * 6.8) + 14;
}

/** uPlot's axes for the chart's options, styled by `style` (chart.js, theme). */
export function axes(options, style) {
  const common = { stroke: style.text, font: style.font, labelFont: style.labelFont };
  const lines = (stroke, size, filter = (u, splits) => splits) => ({
    grid: { stroke, width: 1, filter },
    ticks: { stroke: style.tick, width: 1, size, filter },
  });
  const every = (count) => (u, axisIdx, min, max, length) => length / count;
  const y = {
    ...common,
    ...lines(style.grid, 5),
    scale: "y",
    side: 3,
    label: options.y.label,
    labelSize: 20,
    labelGap: 0,
    gap: 4,
    size: ySize,
    space: every(options.yTickCount),
    incrs: TICK_STEPS,
    values: numberLabels(options.y.format),
  };
  const x = {
    ...common,
    scale: "x",
    side: 2,
    label: options.x.label,
    labelSize: 22,
    gap: 4,
    size: 26,
  };
  if (options.x.scale !== "log") {
    const values = numberLabels(options.x.format);
    const linear = { ...x, space: every(options.xTickCount), incrs: TICK_STEPS, values };
    return [{ ...linear, ...lines(style.grid, 5) }, y];
  }
  // Decades carry the stronger grid line and a longer tick: the 2..9 multiples get their own
  // unlabelled axis on the same scale, drawn first, underneath.
  const only = (wanted) => (u, splits) =>
    splits.map((v) => ((decade(v)[1] === 1) === wanted ? v : null));
  const minor = {
    ...x,
    label: undefined,
    size: 0,
    labelSize: 0,
    ...lines(style.gridMinor, 3, only(false)),
    values: (u, splits) => splits.map(() => null),
  };
  // Every split reaches logLabels, which picks what to label (not uPlot's own log filter).
  const major = { ...x, filter: (u, splits) => splits, values: logLabels };
  return [minor, { ...major, ...lines(style.grid, 5, only(true)) }, y];
}
