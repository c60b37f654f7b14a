"""Streamlit page files, one per menu entry; shared widgets live in ``pages.ui``."""
