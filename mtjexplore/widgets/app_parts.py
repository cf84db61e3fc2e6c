"""Pieces both apps share: the link to the state, the "try this" guide, hiding panels/controls.

CSS classes: ``share-link`` (the link box), ``state-link`` (the ``<a>`` whose ``href`` is the
state's query), ``copy-link`` (its button), ``state-note`` (what a link could not restore),
``try-this`` (the guide), ``reset-button``.
"""

from __future__ import annotations

import html

import ipywidgets as widgets

from ._util import add_classes
from .state import AppState, StateLimits, decode, encode

# The button copies the link and puts it in the address bar (the page's own URL then restores
# this state on reload); it is plain HTML in an HTML widget: no kernel round trip, no JS widget.
_COPY_JS = ("var a=this.parentNode.querySelector('a.state-link');"
            "try{history.replaceState(null,'',a.href);}catch(e){}"
            "if(navigator.clipboard){navigator.clipboard.writeText(a.href);}"
            "this.textContent='link copied';")


class LinkBox(widgets.VBox):
    """The link that reopens the app in its current state, a "copy link" button, and notes.

    Attributes
    ----------
    query : str
        The current state's query string (what the link's ``href`` holds after ``?``).
    """

    def __init__(self):
        super().__init__()
        self.query = ""
        self.link = add_classes(widgets.HTML(), "share-link")
        self.note = add_classes(widgets.HTML(), "state-note")
        self.children = [self.link, self.note]
        self.set_query("")

    def set_query(self, query):
        """Show the link for ``query`` (a query string without ``?``)."""
        self.query = query
        href = html.escape("?" + query, quote=True)
        self.link.value = (f"<span title='a link that opens this app in exactly this state: die, "
                           f"painted cells, method, read path, panels'>"
                           f"<a class='state-link' href='{href}' target='_self'>link to this state</a> "
                           f"<button class='copy-link' type='button' onclick=\"{_COPY_JS}\">"
                           "copy link</button></span>")

    def show_notes(self, notes):
        """Show what a link could not restore (empty: nothing)."""
        self.note.value = "".join(
            f"<div class='state-note-line' style='color:#8a4b00;background:#fff4e0;padding:2px 6px'>"
            f"Link: {html.escape(n)}</div>" for n in notes)


def guide_html(steps, title="Try this"):
    """A short numbered path through the app, open by default, collapsible (CSS ``try-this``)."""
    items = "".join(f"<li style='margin:0;line-height:1.35'>{step}</li>" for step in steps)
    return (f"<details open class='try-this' style='background:#f3f7fb;padding:2px 8px;"
            f"border-left:4px solid #1f77b4;font-size:13px'><summary><b>{html.escape(title)}</b> "
            f"(click to fold)</summary><ol style='margin:2px 0;padding-left:20px'>{items}</ol></details>")


def set_visible(widget, visible):
    """Show or hide a widget (``layout.display``)."""
    widget.layout.display = None if visible else "none"


class StatefulApp:
    """Mixin for the apps: decode a link, apply it, keep the link up to date.

    The class sets ``PANELS`` / ``CONTROLS`` (name -> attribute) and implements
    ``_limits()``, ``_apply(state)`` and ``current_state()``.
    """

    PANELS: dict = {}
    CONTROLS: dict = {}

    def restore(self, query):
        """Open the state a link's query string asks for; a malformed link opens the default
        state with a visible note (never a traceback). Returns the notes."""
        state, notes = decode(query, self._limits())
        try:
            self._apply(state)
        except Exception as exc:  # noqa: BLE001 - a bad link must never show a traceback
            self.reset()
            state, notes = AppState(), [f"the link could not be opened ({exc}); the default "
                                        "state is shown instead"]
        self._apply_visibility(state)
        self.link_box.show_notes(notes)
        self.update_link()
        return notes

    def update_link(self, *_):
        """Rewrite the link from the current state."""
        self.link_box.set_query(encode(self.current_state()))

    def _apply_visibility(self, state):
        self._panels = tuple(state.panels) if state.panels is not None else None
        self._hidden = tuple(state.hidden)
        for name, attr in self.PANELS.items():
            set_visible(getattr(self, attr), state.panels is None or name in state.panels)
        for name, attr in self.CONTROLS.items():
            set_visible(getattr(self, attr), name not in state.hidden)

    def _limits_base(self, **kwargs):
        return StateLimits(panels=tuple(self.PANELS), controls=tuple(self.CONTROLS), **kwargs)
