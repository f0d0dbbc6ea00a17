"""Accuracy-vs-distance plots, tables and JSON (paper Fig. 6/7 style).

Every function takes ``results: {method label: PCKAccumulator.result()}`` so
several methods ("single-frame", "+fusion", "+flow") share one figure/table.
Plots use ``matplotlib.figure.Figure`` with an Agg canvas: no pyplot, no
global backend switch.
"""

from __future__ import annotations

import json
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, ScalarFormatter

from flowpose_jax.evaluate.pck import AVERAGE, accuracy_at
from flowpose_jax.fileio import atomic_output

DEFAULT_THRESHOLD = 6.0  # px; the paper's headline distance (§4).
PANEL_COLS = 3  # subplot grid columns; the last free cell holds the legend
PANEL_SIZE = (4.0, 3.2)  # inches per subplot (width, height)
DPI = 100
PERCENT = 100.0


def _save(fig: Figure, path: str, title: str) -> None:
  """Titles, lays out and writes ``fig`` as a PNG at ``path`` (atomically)."""
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  with atomic_output(path) as tmp:
    fig.savefig(tmp, format="png")


def _row_of_axes(panels: int) -> tuple[Figure, np.ndarray]:
  """A figure with one row of ``panels`` subplots (each ``PANEL_SIZE``, room for a title)."""
  fig = Figure(figsize=(PANEL_SIZE[0] * panels, PANEL_SIZE[1] + 0.6), dpi=DPI)
  FigureCanvasAgg(fig)
  return fig, fig.subplots(1, panels, squeeze=False).ravel()


def _panels(result: dict) -> list[str]:
  return list(result["per_type"]) + [AVERAGE]


def _curve(result: dict, panel: str) -> np.ndarray:
  return np.asarray(result[AVERAGE] if panel == AVERAGE else result["per_type"][panel])


def plot_accuracy_curves(curves: dict[str, dict], path: str, threshold: float = DEFAULT_THRESHOLD,
                         title: str = "", unit: str = "px") -> None:
  """Writes one PNG: a subplot per joint type plus "average", a line per method.

  Args:
    curves: {method label: ``PCKAccumulator.result()``}; each has
      "thresholds" [D] (``unit``), "per_type" {type: [D]} and "average" [D] in [0, 1].
    path: output .png path (written atomically).
    threshold: headline distance d, drawn as a dashed vertical line.
    title: figure title.
    unit: the distances' unit in the labels (``protocols.Protocol.short_unit``).
  """
  if not curves:
    raise ValueError("curves is empty: pass {method label: PCKAccumulator.result()}")
  panels = _panels(next(iter(curves.values())))
  rows = math.ceil((len(panels) + 1) / PANEL_COLS)
  fig = Figure(figsize=(PANEL_SIZE[0] * PANEL_COLS, PANEL_SIZE[1] * rows), dpi=DPI)
  FigureCanvasAgg(fig)
  axes = fig.subplots(rows, PANEL_COLS, squeeze=False).ravel()
  for ax, panel in zip(axes, panels):
    for label, result in curves.items():
      ax.plot(result["thresholds"], PERCENT * _curve(result, panel), label=label, linewidth=2)
    ax.axvline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.set_title(panel.capitalize())
    ax.set_xlabel(f"distance from GT ({unit})")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, PERCENT)
    ax.set_xlim(0, max(float(np.max(r["thresholds"])) for r in curves.values()))
    ax.grid(True, alpha=0.3)
  handles, labels = axes[0].get_legend_handles_labels()
  for ax in axes[len(panels):]:
    ax.axis("off")
  axes[len(panels)].legend(handles, labels, loc="center", title=f"dashed: d = {threshold:g} {unit}")
  _save(fig, path, title)


def format_table(results: dict[str, dict], d: float = DEFAULT_THRESHOLD, unit: str = "px") -> str:
  """Markdown table of accuracy (%) at distance ``d``, one row per method.

  Columns: every joint (``result["joint_names"]``), then every joint type
  whose name is not already a joint column (wrists, elbows, shoulders), then
  "average". NaN (no joints counted) prints as "-".

  Args:
    results: {method label: ``PCKAccumulator.result()``}.
    d: distance (``unit``); must be one of the results' thresholds.
    unit: its unit in the header (``protocols.Protocol.short_unit``: "px", "% torso").

  Returns:
    the table as a string (no trailing newline).
  """
  if not results:
    raise ValueError("results is empty: pass {method label: PCKAccumulator.result()}")
  first = next(iter(results.values()))
  names = list(first["joint_names"])
  columns = names + [t for t in first["per_type"] if t not in names] + [AVERAGE]
  lines = [f"| method (d = {d:g} {unit}) | " + " | ".join(columns) + " |",
           "|---" * (len(columns) + 1) + "|"]
  for label, result in results.items():
    acc = accuracy_at(result, d)
    cells = ["-" if math.isnan(acc[c]) else f"{PERCENT * acc[c]:.1f}" for c in columns]
    lines.append(f"| {label} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def _jsonable(x):
  """numpy -> lists and Python scalars; NaN/inf -> None (strict JSON)."""
  if isinstance(x, dict):
    return {str(k): _jsonable(v) for k, v in x.items()}
  if isinstance(x, np.ndarray):
    return _jsonable(x.tolist())
  if isinstance(x, (list, tuple)):
    return [_jsonable(v) for v in x]
  if isinstance(x, np.generic):
    return _jsonable(x.item())
  if isinstance(x, float) and not math.isfinite(x):
    return None
  return x


def write_results_json(path: str, results: dict[str, dict], meta: dict,
                       d: float = DEFAULT_THRESHOLD, unit: str = "px") -> None:
  """Writes curves, counts and the table at ``d`` as strict JSON (NaN -> null).

  Args:
    path: output .json path (written atomically).
    results: {method label: ``PCKAccumulator.result()``}; extra keys such as
      "predictions" are not written.
    meta: free-form JSON-able info (config, checkpoint, commit, device).
    d: headline distance (``unit``) for the "table" entry.
    unit: its unit in the table's header (``format_table``).

  Layout: {"meta", "threshold", "methods": {label: {"thresholds" [D],
  "joint_names" [J], "counts" [J], "hits" [D][J], "per_joint" [D][J],
  "per_type" {type: [D]}, "type_counts", "average" [D], "at_threshold"
  {name: accuracy}}}, "table": markdown string}.
  """
  keys = ("thresholds", "joint_names", "counts", "hits", "per_joint", "per_type", "type_counts",
          AVERAGE)
  methods = {label: {**{k: r[k] for k in keys}, "at_threshold": accuracy_at(r, d)}
             for label, r in results.items()}
  doc = {"meta": meta, "threshold": d, "methods": methods, "table": format_table(results, d, unit)}
  text = json.dumps(_jsonable(doc), indent=1, allow_nan=False)
  with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    f.write(text + "\n")



WEIGHTS_FIGSIZE = (8.0, 4.5)  # inches


def plot_pooling_weights(kernel: np.ndarray, path: str, title: str = "") -> None:
  """The learned temporal pooling weights per joint (the paper's Fig. 9).

  Args:
    kernel: [T, J] weights of the parametric pooler (T = 2n+1, centre n).
    path: PNG to write.
  """
  from flowpose_jax.joints import JOINT_NAMES  # pylint: disable=import-outside-toplevel
  kernel = np.asarray(kernel, np.float64)
  t, j = kernel.shape
  offsets = np.arange(t) - (t - 1) // 2
  fig = Figure(figsize=WEIGHTS_FIGSIZE, dpi=DPI)
  FigureCanvasAgg(fig)
  ax = fig.add_subplot(1, 1, 1)
  for k in range(j):
    ax.plot(offsets, kernel[:, k], marker="o", label=JOINT_NAMES[k] if k < len(JOINT_NAMES) else str(k))
  ax.axhline(1.0 / t, color="grey", linestyle="--", linewidth=1, label="initial 1/(2n+1)")
  ax.set_xlabel("temporal offset k (frames)")
  ax.set_ylabel("weight")
  ax.set_title(title or "learned pooling weights")
  ax.grid(alpha=0.3)
  ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
  fig.tight_layout()
  with atomic_output(path) as tmp:
    fig.savefig(tmp, format="png")


MODEL_LABELS = {"heatmap_net": "HeatmapNet", "coordinate_net": "CoordinateNet"}


def _spread(row: dict, joint_type: str) -> float:
  """A study row's error bar in %: its "std" over seeds (0 when absent or None: one run)."""
  return PERCENT * ((row.get("std") or {}).get(joint_type) or 0.0)


def plot_data_scaling(records: list[dict], fits: dict, path: str, joint_types: tuple[str, ...],
                      title: str = "") -> None:
  """The paper's Fig. 7: accuracy at the headline d vs training records, per network.

  Args:
    records: study settings, each {"point": {"model", "frames", "role", "loss", ...},
      "accuracy": {joint type: fraction, the mean over seeds}, "std": {joint type:
      fraction or None}} (``flowpose_jax.study.aggregate``): the mean is drawn
      with an error bar of +-std.
    fits: {"<model>/<type>": {"a", "b", "c"[, "rms"]}} saturating power laws
      ``a - b * N**-c`` (b < 0: falling) drawn dashed over the clean points.
    path: output .png (written atomically).
    joint_types: one subplot each (e.g. wrists, elbows, average: the mean of all joints).
  """
  fig, axes = _row_of_axes(len(joint_types))
  models = sorted({r["point"]["model"] for r in records})
  frames = [r["point"]["frames"] for r in records]
  grid = np.geomspace(max(1, min(frames)), 2 * max(frames), 50)
  for ax, joint_type in zip(axes, joint_types):
    for i, model in enumerate(models):
      colour = f"C{i}"
      label = MODEL_LABELS.get(model, model)
      mine = [r for r in records if r["point"]["model"] == model]
      clean = sorted((r["point"]["frames"], r["accuracy"][joint_type], _spread(r, joint_type)) for r in mine
                     if r["point"]["role"] in ("clean", "predicted"))
      ax.errorbar([n for n, _, _ in clean], [PERCENT * a for _, a, _ in clean], yerr=[s for _, _, s in clean],
                  fmt="o-", capsize=3, color=colour, label=label)
      for r in mine:
        if r["point"]["role"] == "noisy":
          marker = "s" if r["point"]["loss"] == "l2" else "^"
          ax.errorbar(r["point"]["frames"], PERCENT * r["accuracy"][joint_type], yerr=_spread(r, joint_type),
                      fmt=marker, capsize=3, color=colour, markersize=9,
                      label=f"{label} + noisy ({r['point']['loss']})")
      fit = fits.get(f"{model}/{joint_type}")
      if fit is not None:
        y = fit["a"] - fit["b"] * grid ** -fit["c"]
        sign, rms = "-" if fit["b"] >= 0 else "+", fit.get("rms")
        ax.plot(grid, PERCENT * y, "--", color=colour, linewidth=1,
                label=f"{label} fit {PERCENT * fit['a']:.0f} {sign} {PERCENT * abs(fit['b']):.3g} N^-{fit['c']:.2f}"
                      + ("" if rms is None else f" (rms {PERCENT * rms:.1f})"))
    ax.set_xscale("log")
    ax.set_xticks(sorted(set(frames)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_title("All joints (mean)" if joint_type == "average" else joint_type.capitalize())
    ax.set_xlabel("clean training records N")
    ax.set_ylabel("accuracy (%, mean +- std over seeds)")
    ax.set_ylim(0, PERCENT)
    ax.grid(True, alpha=0.3)
  axes[-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
  _save(fig, path, title)


def plot_pooling_vs_n(summary: dict, path: str, joint_types: tuple[str, ...], title: str = "") -> None:
  """The paper's Fig. 8: accuracy at the headline d vs window n, a line per (pooling, flow source).

  Args:
    summary: ``flowpose_jax.study.pooling_plan``'s summary: {"baselines": {label: {type: acc}},
      "points": [{"point": {"pooling", "n", "flow_source"}, "accuracy": {type: mean acc},
      "std": {type: acc or None}}]}; means are drawn with a band of +-std.
    path: output .png (written atomically).
    joint_types: one subplot each.
  """
  fig, axes = _row_of_axes(len(joint_types))
  lines = sorted({(r["point"]["pooling"], r["point"]["flow_source"]) for r in summary["points"]})
  flows = sorted({flow for _, flow in lines})
  for ax, joint_type in zip(axes, joint_types):
    for pooling, flow in lines:
      rows = sorted((r["point"]["n"], PERCENT * r["accuracy"][joint_type], _spread(r, joint_type))
                    for r in summary["points"]
                    if (r["point"]["pooling"], r["point"]["flow_source"]) == (pooling, flow))
      n, mean, spread = (np.array(v, np.float64) for v in zip(*rows))
      colour = f"C{sorted({p for p, _ in lines}).index(pooling)}"
      ax.plot(n, mean, "o" + ("-" if flows.index(flow) == 0 else "--"), color=colour, label=f"{pooling} ({flow})")
      ax.fill_between(n, mean - spread, mean + spread, color=colour, alpha=0.15, linewidth=0)
    for j, (label, acc) in enumerate(summary["baselines"].items()):
      ax.axhline(PERCENT * acc[joint_type], color="grey", linestyle=(":", "-.")[j % 2], linewidth=1, label=label)
    ax.set_title(joint_type.capitalize())
    ax.set_xlabel("window half-width n (2n+1 frames)")
    ax.set_ylabel("accuracy (%, mean +- std over seeds)")
    ax.grid(True, alpha=0.3)
  axes[-1].legend(fontsize="small", loc="lower right")
  _save(fig, path, title)
