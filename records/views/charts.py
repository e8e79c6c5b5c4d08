"""A small server-rendered chart: assessment performance level over time, per subject.

The template draws the SVG from the coordinates computed here; no script runs in the
browser. Each subject gets a colour and a marker shape, so the chart does not rely on
colour alone, and the page shows every result in a table as its text alternative.
"""

from __future__ import annotations

WIDTH, HEIGHT = 600, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 36
# Colours with at least 3:1 contrast on white, and a distinct marker each.
SERIES_STYLES = (
    ("#1f5fa8", "circle"),
    ("#b3261e", "square"),
    ("#1e7b3c", "diamond"),
    ("#6b3fa0", "ring"),
)


def performance_chart(results: list[dict]) -> dict | None:
    """Coordinates of each subject's line, or ``None`` when no result has a level."""
    points = [r for r in results if r["performance_level"] is not None]
    if not points:
        return None
    dates = sorted({r["administered_on"] for r in points})
    top_level = max(4, max(r["performance_level"] for r in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day) -> float:
        if len(dates) == 1:
            return LEFT + plot_w / 2
        span = (dates[-1] - dates[0]).days or 1
        return round(LEFT + plot_w * (day - dates[0]).days / span, 1)

    def y(level: int) -> float:
        return round(TOP + plot_h * (1 - (level - 1) / (top_level - 1)), 1)

    subjects: dict[str, list[dict]] = {}
    for result in sorted(points, key=lambda r: r["administered_on"]):
        subjects.setdefault(result["subject"] or result["assessment"], []).append(result)
    series = []
    for index, (subject, rows) in enumerate(sorted(subjects.items())):
        colour, shape = SERIES_STYLES[index % len(SERIES_STYLES)]
        marks = [
            {"x": x(r["administered_on"]), "y": y(r["performance_level"]), "result": r}
            for r in rows
        ]
        series.append(
            {
                "subject": subject,
                "colour": colour,
                "shape": shape,
                "marks": marks,
                "polyline": " ".join(f"{m['x']},{m['y']}" for m in marks),
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "bottom": HEIGHT - BOTTOM,
        "levels": [{"level": n, "y": y(n)} for n in range(1, top_level + 1)],
        "first": {"x": x(dates[0]), "date": dates[0]},
        "last": {"x": x(dates[-1]), "date": dates[-1]} if len(dates) > 1 else None,
        "series": series,
    }
