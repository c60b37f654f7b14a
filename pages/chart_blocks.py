"""Shared UI of the dashboards: a chart with its data as CSV/XLSX downloads, or an empty-state note."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from training.analytics_export import chart_data_bytes

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def chart_block(title: str, frame: pd.DataFrame, chart: alt.TopLevelMixin | None, *, key: str,
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
    """CSV and Excel downloads of ``frame`` (formula-like cells neutralised)."""
    name = file_name or key
    left, right, _ = st.columns([1, 1, 4])
    left.download_button("下载 CSV", chart_data_bytes(frame, "csv"), file_name=f"{name}.csv",
                         mime="text/csv", key=f"csv_{key}", on_click="ignore")
    right.download_button("下载 Excel", chart_data_bytes(frame, "xlsx", sheet=sheet),
                          file_name=f"{name}.xlsx", mime=XLSX_MIME, key=f"xlsx_{key}", on_click="ignore")
