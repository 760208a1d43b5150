// The crosshair's tooltip and its keyboard: uPlot moves the crosshair and finds each series'
// nearest point; this writes what is under it, and lets the arrow keys move it.

import { h } from "../dom.js";

/** The series the tooltip reads: the lines, not the bands' edges. */
const readable = (u) => [...u.series.keys()].filter((i) => i > 0 && u.series[i].tooltip !== false);

/** The tooltip beside the crosshair (a setCursor hook): the x, then each line's value there. */
export function showTooltip(u, options, tooltip) {
  const { idx, idxs, left } = u.cursor;
  if (idx == null || left < 0) {
    tooltip.hidden = true;
    return;
  }
  const xFormat = options.x.tooltipFormat || options.x.format || String;
  const rows = [
    h("div", { class: "tooltip-x" }, `${options.x.name || "x"} ${xFormat(u.data[0][idx])}`),
  ];
  let anchor = null;
  for (const i of readable(u)) {
    const value = idxs[i] == null ? null : u.data[i][idxs[i]];
    if (value == null) continue;
    anchor ??= value;
    const series = u.series[i];
    const format = series.format || options.y.format || ((v) => v.toPrecision(4));
    rows.push(
      h(
        "div",
        {},
        h("span", { class: `swatch line ${series.className || ""}` }),
        `${series.label} `,
        h("strong", {}, format(value)),
      ),
    );
  }
  // Beside the point, on its right unless it would stick out of the chart, above it in the
  // lower half: never over what it describes.
  const { clientHeight: height, offsetLeft, offsetTop } = u.over;
  const top = anchor == null ? 0 : Math.max(0, Math.min(height, u.valToPos(anchor, "y")));
  tooltip.replaceChildren(...rows);
  tooltip.style.left = `${offsetLeft + left}px`;
  tooltip.style.top = `${offsetTop + top}px`;
  tooltip.hidden = false;
  const room = tooltip.offsetParent.clientWidth - offsetLeft - left;
  tooltip.classList.toggle("flip", tooltip.offsetWidth + 14 > room);
  tooltip.classList.toggle("above", top > height / 2);
}

/** Arrow keys, Page Up/Down, Home and End move the crosshair along the first line's points. */
export function attachKeys(figure, u) {
  const [line] = readable(u);
  const points = line ? [...u.data[0].keys()].filter((j) => u.data[line][j] != null) : [];
  if (!points.length) return;
  let at = Math.floor(points.length / 2);
  const show = (k) => {
    at = Math.max(0, Math.min(points.length - 1, k));
    const j = points[at];
    const top = Math.max(0, Math.min(u.over.clientHeight, u.valToPos(u.data[line][j], "y")));
    u.setCursor({ left: u.valToPos(u.data[0][j], "x"), top });
  };
  const hide = () => u.setCursor({ left: -10, top: -10 });
  figure.onkeydown = (event) => {
    const moves = { ArrowLeft: -1, ArrowRight: 1, PageDown: -10, PageUp: 10 };
    if (event.key in moves) show(at + moves[event.key] * (event.shiftKey ? 10 : 1));
    else if (event.key === "Home") show(0);
    else if (event.key === "End") show(points.length - 1);
    else if (event.key === "Escape") hide();
    else return;
    event.preventDefault();
  };
  figure.onfocus = () => show(at);
  figure.onblur = hide;
}
