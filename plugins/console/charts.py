"""Small inline SVG charts: a stacked bar per day, one colour per series. No script, no styles:
presentation attributes only, so the strict Content-Security-Policy allows them."""

from __future__ import annotations

from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
W, H, PAD_L, PAD_B, PAD_T = 720, 240, 64, 28, 12


def stacked_bars(days: list[str], series: dict[str, dict[str, float]], *, unit: str = "$",
                 title: str = "") -> str:
    """*series*: name -> {day: value}. Up to 7 series by total; the rest are summed as "other"."""
    ranked = sorted(series, key=lambda s: -sum(series[s].values()))
    shown = {s: series[s] for s in ranked[:7]}
    if len(ranked) > 7:
        shown["other"] = {d: sum(series[s].get(d, 0.0) for s in ranked[7:]) for d in days}
    top = max((sum(v.get(d, 0.0) for v in shown.values()) for d in days), default=0.0) or 1.0
    plot_w, plot_h = W - PAD_L - 8, H - PAD_B - PAD_T
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)
    height = H + 22 * ((len(shown) + 3) // 4)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {W} {height}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for frac in (0.0, 0.5, 1.0):
        y = PAD_T + plot_h * (1 - frac)
        parts.append(f'<line x1="{PAD_L}" x2="{W - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#555">'
                     f'{escape(_fmt(top * frac, unit))}</text>')
    for i, day in enumerate(days):
        x = PAD_L + i * slot + (slot - bar) / 2
        y = PAD_T + plot_h
        for j, (name, values) in enumerate(shown.items()):
            v = values.get(day, 0.0)
            if v <= 0:
                continue
            h = plot_h * v / top
            y -= h
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{PALETTE[j % len(PALETTE)]}" data-series="{escape(name)}" data-day="{day}" '
                         f'data-value="{v:.6f}"><title>{escape(name)} {day}: {escape(_fmt(v, unit))}</title></rect>')
        if len(days) <= 16 or i % max(len(days) // 8, 1) == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{H - 10}" text-anchor="middle" font-size="10" '
                         f'fill="#555">{day[5:]}</text>')
    for j, name in enumerate(shown):
        lx, ly = PAD_L + (j % 4) * 165, H + 8 + 22 * (j // 4)
        parts.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>'
                     f'<text x="{lx + 16}" y="{ly + 11}" font-size="12" fill="#222">'
                     f'{escape((name or "(none)")[:22])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _fmt(v: float, unit: str) -> str:
    if unit == "$":
        return f"${v:,.2f}" if v >= 1 else "$0" if v == 0 else f"${v:.3g}"
    return f"{v:,.0f}"
