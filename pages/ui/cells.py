"""Table cells of the trainer pages as people read them: team time, 是/否, whole percentages."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from training.core.clock import fmt_datetime

#: What an empty cell shows.
NONE = "—"


def when(value: datetime | None) -> str:
    """An instant in team time, whatever the server's zone (``—`` for none)."""
    return fmt_datetime(value)


def yes_no(value: bool | None) -> str:
    """是 or 否 (``—`` for unknown)."""
    return NONE if value is None else ("是" if value else "否")


def percent(value: float | None) -> str:
    """A share as a whole percentage (``—`` for none)."""
    return NONE if value is None else f"{value:.0%}"


def rows_table(rows: list[dict[str, object]]) -> None:
    """Rows of cells as a full-width table without the index column."""
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
