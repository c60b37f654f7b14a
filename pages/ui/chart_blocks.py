"""Shared UI of the dashboards: charts that read right, tables rounded for people, CSV/XLSX downloads.

Counts sit on whole-number axes, category labels are shown in full (wrapped, never cut with "…"),
and figures are rounded the way people read them: 44%, 0.52, never -0.00.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, TypeAlias

import altair as alt
import pandas as pd
import streamlit as st

from training.analytics.export import chart_data_bytes

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Decimals kept for figures that are not counts or percentages.
DECIMALS = 2
#: The Altair charts ``st.altair_chart`` draws (a plain, layered, concatenated, faceted or repeated chart).
AltairChart: TypeAlias = (alt.Chart | alt.LayerChart | alt.HConcatChart | alt.VConcatChart | alt.ConcatChart
                          | alt.FacetChart | alt.RepeatChart)


def count_axis(**kwargs: Any) -> alt.Axis:
    """An axis for counts: whole-number ticks only (no 0.5 场次)."""
    return alt.Axis(format="d", tickMinStep=1, **kwargs)


def count_legend(**kwargs: Any) -> alt.Legend:
    """A colour legend for counts: whole numbers only."""
    return alt.Legend(format="d", tickMinStep=1, **kwargs)


def full_legend(**kwargs: Any) -> alt.Legend:
    """A legend whose labels are never cut short."""
    return alt.Legend(labelLimit=0, **kwargs)


def _wrap_expression(width: int, lines: int) -> str:
    """Vega expression: ``datum.label`` in lines of ``width`` characters, the last line taking the rest."""
    def piece(i: int, last: bool) -> str:
        end = "" if last else f", {(i + 1) * width}"
        return f"substring(datum.label, {i * width}{end})"

    expression = "[" + ", ".join(piece(i, i == lines - 1) for i in range(lines)) + "]"
    for shown in range(lines - 1, 0, -1):
        head = "[" + ", ".join(piece(i, i == shown - 1) for i in range(shown)) + "]"
        expression = f"length(datum.label) <= {shown * width} ? {head} : {expression}"
    return expression


def wrapped_axis(width: int = 8, lines: int = 4, **kwargs: Any) -> alt.Axis:
    """An axis for categories whose labels show in full, wrapped every ``width`` characters."""
    return alt.Axis(labelExpr=_wrap_expression(width, lines), labelLimit=0, labelAngle=0, **kwargs)


def tidy_numbers(frame: pd.DataFrame, *, decimals: int = DECIMALS) -> pd.DataFrame:
    """``frame`` with float columns rounded and negative zeros made zero (for charts and downloads)."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].round(decimals) + 0.0  # -0.0 + 0.0 is 0.0
    return out


def day_calendar(totals: dict[date, int], *, value: str, weekdays: list[str]) -> pd.DataFrame:
    """Every day from the Monday of the first week to the Sunday of the last, with 0 on empty days.

    Columns: 日期, ``value``, 星期 (from ``weekdays``), 周 (the week's Monday, with the year when the
    weeks span years); a calendar heat map drawn from it skips no week.
    """
    if not totals:
        return pd.DataFrame(columns=["日期", value, "星期", "周"])
    first, last = min(totals), max(totals)
    start = first - timedelta(days=first.weekday())
    end = last + timedelta(days=6 - last.weekday())
    week_format = "%m-%d" if start.year == end.year else "%Y-%m-%d"
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return pd.DataFrame([{"日期": d.isoformat(), value: totals.get(d, 0), "星期": weekdays[d.weekday()],
                          "周": (d - timedelta(days=d.weekday())).strftime(week_format)} for d in days])


def every_week(counts: dict[date, int], *, value: str) -> pd.DataFrame:
    """One row per week (its Monday, ISO) from the first week in ``counts`` to the last, 0 where empty."""
    if not counts:
        return pd.DataFrame(columns=["周", value])
    first, last = min(counts), max(counts)
    monday = first - timedelta(days=first.weekday())
    weeks = [monday + timedelta(weeks=n) for n in range((last - monday).days // 7 + 1)]
    return pd.DataFrame([{"周": w.isoformat(), value: counts.get(w, 0)} for w in weeks])


def people_table(frame: pd.DataFrame, *, percent: Iterable[str] = (), decimals: Iterable[str] = (),
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A table for people and its column formats: shares as whole percentages, figures to 2 decimals.

    Percent columns hold whole numbers (44 for 0.4444) so the download reads the same as the screen.
    """
    out = tidy_numbers(frame)
    config: dict[str, Any] = {}
    for column in percent:
        out[column] = (pd.to_numeric(out[column]) * 100).round().astype("Int64")
        config[column] = st.column_config.NumberColumn(column, format="%d%%")
    for column in decimals:
        out[column] = pd.to_numeric(out[column]).round(DECIMALS) + 0.0  # + 0.0: never -0.00
        config[column] = st.column_config.NumberColumn(column, format=f"%.{DECIMALS}f")
    return out, config


def chart_block(title: str, frame: pd.DataFrame, chart: AltairChart | None, *, key: str,
                empty: str) -> None:
    """``chart`` of ``frame`` under a subheader, with downloads; ``empty`` shown when there is no data."""
    st.subheader(title)
    if frame.empty:
        st.info(empty)
        return
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    downloads(frame, key=key, sheet=title)


def downloads(frame: pd.DataFrame, *, key: str, sheet: str, file_name: str | None = None) -> None:
    """CSV and Excel downloads of ``frame`` (figures rounded, formula-like cells neutralised)."""
    name = file_name or key
    frame = tidy_numbers(frame)
    left, right, _ = st.columns([1, 1, 4])
    left.download_button("下载 CSV", chart_data_bytes(frame, "csv"), file_name=f"{name}.csv",
                         mime="text/csv", key=f"csv_{key}", on_click="ignore")
    right.download_button("下载 Excel", chart_data_bytes(frame, "xlsx", sheet=sheet),
                          file_name=f"{name}.xlsx", mime=XLSX_MIME, key=f"xlsx_{key}", on_click="ignore")
