"""Small PNG charts of published gold cells, for people who would rather look than read."""

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd


def bar_chart_png(published: pd.DataFrame, by: str, value: str, title: str, top: int = 12) -> bytes:
    """A bar chart of `value` summed by `by` over the published cells (PNG bytes)."""
    figure, axis = plt.subplots(figsize=(6.4, 3.2), dpi=100)
    try:
        if published.empty:
            axis.text(0.5, 0.5, "no published cells this month", ha="center", va="center")
            axis.set_axis_off()
        else:
            series = published.groupby(by)[value].sum().astype("float64")
            series = (
                series.sort_index() if by == "day" else series.sort_values(ascending=False)[:top]
            )
            labels = [str(label)[:28] for label in series.index]
            axis.bar(range(len(series)), series.to_numpy(), color="#3b6ea5")
            axis.set_xticks(range(len(series)), labels, rotation=45, ha="right", fontsize=7)
            axis.set_ylabel(value.replace("_", " "))
        axis.set_title(title, fontsize=9)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def markdown_image(png: bytes, alt: str) -> str:
    """The PNG embedded in Markdown as a data URI."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
