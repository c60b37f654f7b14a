"""Page actions run in widget callbacks, their messages, and the confirmation step of destructive ones.

A callback runs before the page draws anything, so the lists, counts and selections the page then
draws already include the change. The message is kept in the session state under a *slot* and
shown once, beside the form or button that asked for it (``show``); a form is cleared only after
a successful save (``forget``), so a refused form keeps what was typed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

import streamlit as st

from pages.ui.common import current_user
from pages.ui.markdown import md_escape
from training.auth.permissions import PermissionDenied
from training.core.errors import UserError
from training.models import User

T = TypeVar("T")
Kind = Literal["success", "error", "warning", "info", "code"]
OUTCOME = "outcome:"
CONFIRM = "confirm:"


def note(slot: str, text: str, kind: Kind = "success") -> None:
    """Keep a message for ``slot``; the page shows it with ``show`` on this run."""
    st.session_state.setdefault(OUTCOME + slot, []).append((kind, text))


def show(slot: str) -> None:
    """Show, once, the messages the last action of ``slot`` left (user text is shown as typed)."""
    for kind, text in st.session_state.pop(OUTCOME + slot, []):
        if kind == "code":
            st.code(text, language=None)
        else:
            {"success": st.success, "error": st.error, "warning": st.warning, "info": st.info}[kind](
                md_escape(text)
            )


def act(
    slot: str, action: Callable[[User], T], *, success: str | Callable[[T], str] | None = None
) -> T | None:
    """Run a service call as the logged-in user and keep its outcome for ``slot``.

    The user is read again here: a callback runs before the page checks the login, and an
    account disabled or a session expired since the last run must not act. The service's
    refusal (a ``UserError`` or ``PermissionDenied``) becomes the slot's error message.
    """
    user = current_user()
    if user is None:
        return None  # the run that follows shows the login page with its notice
    try:
        result = action(user)
    except (UserError, PermissionDenied) as exc:
        note(slot, str(exc), "error")
        return None
    if success is not None:
        note(slot, success(result) if callable(success) else success)
    return result


def forget(*keys: str, to: dict[str, Any] | None = None) -> None:
    """Reset widgets to their defaults (from a callback, after a successful save).

    Multiselects are cleared by writing ``[]`` and ``to`` gives other widgets the value to go back
    to (``""`` for a text box): a key merely dropped from the session state resets the server's
    copy, but the browser keeps showing what was typed and sends it again with the next submit.
    Other keys are dropped. (``to`` only for widgets drawn without ``value=`` or with their first
    option: Streamlit warns in English when a widget with a default also gets a value this way.)
    """
    for key in keys:
        if to is not None and key in to:
            st.session_state[key] = to[key]
            continue
        if isinstance(st.session_state.get(key), list):
            st.session_state[key] = []
        else:
            st.session_state.pop(key, None)


def ask(slot: str, subject: Any) -> None:
    """Callback of a destructive button: remember what is to be confirmed; nothing changes yet."""
    st.session_state[CONFIRM + slot] = subject


def cancel(slot: str) -> None:
    """Drop a pending confirmation (取消, or the user chose another target)."""
    st.session_state.pop(CONFIRM + slot, None)


def asked(slot: str) -> Any:
    """What a pending confirmation of ``slot`` is about, or None."""
    return st.session_state.get(CONFIRM + slot)


def _confirmed(slot: str, on_confirm: Callable[[Any], None]) -> None:
    subject = st.session_state.pop(CONFIRM + slot, None)
    if subject is not None:
        on_confirm(subject)


def confirm_step(slot: str, *, question: str, confirm: str, on_confirm: Callable[[Any], None]) -> None:
    """The second step of a destructive action, if it was asked for: a warning naming the thing,
    a 确认 button that runs ``on_confirm(subject)`` and 取消."""
    if asked(slot) is None:
        return
    with st.container(border=True):
        st.warning(md_escape(question), icon=":material/warning:")
        yes, no = st.columns(2)
        yes.button(md_escape(confirm), key=f"{slot}_confirm", type="primary", on_click=_confirmed,
                   args=(slot, on_confirm))
        no.button("取消", key=f"{slot}_cancel", on_click=cancel, args=(slot,))
