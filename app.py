"""Huashu (话术) Streamlit entry point: login, then a menu built from the user's role.

``streamlit run app.py`` finds the ``st.App`` below and serves this file through it, which adds
the two HTTP routes that set and clear the HttpOnly login cookie (pages/ui/session_routes.py).
When Streamlit then runs this file as the page script (``__name__ == "__main__"``), it draws
the shell: the login form for every address until someone is logged in, then the role's menu.
"""

from __future__ import annotations

import streamlit as st

from pages.ui.session_routes import ROUTES, show_script_error

if __name__ != "__main__":  # imported by the ASGI server: the app with its cookie routes
    from streamlit.runtime.pages_manager import PagesManager

    # pages/ holds this app's page files, not a legacy multipage folder: without this, the first
    # page run after a start would list every file in the sidebar and say "Page not found".
    PagesManager.uses_pages_directory = False
    # Every uploader states, and the server enforces, the app's own limit (not Streamlit's 200 MB).
    from streamlit import config as _config

    from training.core.config import get_settings

    _config.set_option("server.maxUploadSize", get_settings().upload_limit_mb, "HUASHU_UPLOAD_LIMIT_MB")
    app = st.App(__file__, routes=ROUTES, on_script_error=show_script_error)
else:
    from pages.ui.shell import draw_shell

    draw_shell()
