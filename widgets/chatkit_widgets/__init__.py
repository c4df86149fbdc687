"""chatkit_widgets — chat inside a notebook: the ``ChatPanel`` widget and the ``%%chat``
magic, both on top of ``chatkit.ChatSession`` (the core itself imports no Jupyter code).

Example::

    from chatkit_widgets import ChatPanel
    ChatPanel()                     # offline by default; ChatPanel(session=…, user_id=…)

    %load_ext chatkit_widgets       # then %%chat, %chat history|reset|export
"""

from __future__ import annotations

from typing import Any

from .panel import ChatPanel

__all__ = ["ChatPanel", "load_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext chatkit_widgets``: register ``%%chat`` and ``%chat``."""
    from .magic import ChatMagics

    ipython.register_magics(ChatMagics)
