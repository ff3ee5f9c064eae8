"""Parts of the page shell rendered once per process and language, not once per page.

The GOV.UK header, footer, phase banner and skip link are the same on every page in one
language: building them through GOV.UK Frontend's macros cost about a quarter of a question
page's CPU (bench/README.md, "Journey pages"). A template wraps such a part in

    {% call fragment("footer", url_for("public.home")) %} … {% endcall %}

and the body is rendered the first time a key is seen, its HTML kept and given again after.
The key is the name, the values given after it and the page's language: a fragment may use
only those and what is fixed for the process (the settings, the registered pages, the
catalogues). Never anything of the visitor (the signed-in citizen, the CSRF token, the
current page). With templates reloading as they change (``TEMPLATES_AUTO_RELOAD``, the
debugger), nothing is kept, so an edited template shows at once.

A part that is the same for everyone but for one piece of the visitor's (the service navigation
and its sign-out form with this session's CSRF token; a question's text input and the answer in
it) is kept with a hole where that piece goes, and the piece is put in on every page:

    {% call(hole) fragment_around("service-navigation", sign_out_form, state) %} … {{ hole }} … {% endcall %}

The piece is escaped as Jinja escapes ``{{ hole }}`` (Markup is put in as it is), so the page is
the HTML the part renders with the piece itself, byte for byte, as long as the hole is output
as it is (no filter that changes it). Where the hole is not found once in the HTML, the part is
rendered with the piece every time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from threading import Lock

from flask import Flask, current_app, has_request_context, request
from markupsafe import Markup

from tellusonce.web.language import page_language

EXTENSION = "tellusonce.fragments"
# Names × languages × URL roots, the service navigation's states and the question pages' text
# inputs (tellusonce/web/widgets.py): a few hundred. Past this something varies that should not,
# and fragments are rendered every time (correct, only slower) rather than kept without bound.
LIMIT = 1024
# Where a kept part's piece of the visitor goes: a word no page has (escaping leaves it as it is).
HOLE = Markup(f"tellusonce-hole-{secrets.token_hex(8)}")


class Fragments:
    """The kept fragments of one app."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Hashable, ...], Markup] = {}
        self._lock = Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: tuple[Hashable, ...], render: Callable[[], str]) -> Markup:
        kept = self._kept.get(key)
        if kept is not None:
            return kept
        html = Markup(render())
        if not current_app.jinja_env.auto_reload:
            with self._lock:
                if len(self._kept) < LIMIT:
                    self._kept[key] = html
        return html


def fragment(name: str, *values: Hashable, caller: Callable[[], str]) -> Markup:
    """The HTML of a ``{% call fragment(name, *values) %}`` block (see the module's docstring)."""
    fragments: Fragments = current_app.extensions[EXTENSION]
    root = request.script_root if has_request_context() else None
    return fragments.get((name, page_language(), root, *values), caller)


def fragment_around(name: str, filling: str, *values: Hashable, caller: Callable[[str], str]) -> Markup:
    """The HTML of a ``{% call(hole) fragment_around(name, filling, *values) %}`` block (see the
    module's docstring); the key also says whether ``filling`` is blank."""
    root = request.script_root if has_request_context() else None
    return kept_around((name, page_language(), root, bool(str(filling).strip()), *values), filling, caller)


def kept_around(key: tuple[Hashable, ...], filling: str, render: Callable[[str], str]) -> Markup:
    """``render(HOLE)``, kept under ``key``, with ``filling`` where ``HOLE`` is: ``render(filling)``."""
    if current_app.jinja_env.auto_reload:  # nothing is kept: rendered as it is
        return Markup(render(filling))
    fragments: Fragments = current_app.extensions[EXTENSION]
    head, hole, tail = fragments.get(key, lambda: render(HOLE)).partition(HOLE)
    if not hole or HOLE in tail:
        return Markup(render(filling))
    return head + filling + tail


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Fragments()
    app.jinja_env.globals["fragment"] = fragment
    app.jinja_env.globals["fragment_around"] = fragment_around
