"""Markdown helpers for every page: user text made safe to put inside ``st.markdown``."""

from __future__ import annotations

#: Characters that mean something to Streamlit's markdown (CommonMark, colour directives, LaTeX).
MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()#+-.!|<>~:$")


def md_escape(text: str) -> str:
    """User text made inert for st.markdown (no links, emphasis, colour directives or LaTeX)."""
    return "".join("\\" + ch if ch in MARKDOWN_SPECIALS else ch for ch in text)
