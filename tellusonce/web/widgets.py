"""A question page's text input, its GOV.UK markup kept once a process with a hole for the answer.

GOV.UK Frontend's ``govukInput`` macro, reached through govuk-frontend-wtf's ``GovTextInput``,
cost about 3 M instructions an input (bench/README.md, "Journey pages"), though all it renders
but the answer is the same for everyone: the field's id and name, its label, hint, classes and
attributes, in the page's language. ``KeptTextInput`` renders the macro exactly as
``GovTextInput`` does, once for each set of parameters, with a hole where the answer goes
(``fragments.kept_around``), and puts the answer in, escaped as the macro escapes it, on every
page: the same HTML byte for byte (tests/integration/web/test_widgets.py). An input showing an
error, or given something other than text as its value, is rendered in full each time.

Only for fields whose parameters are the catalogue's (the question pages): what is kept is
keyed by every parameter but the answer, so a label or hint made of the visitor's own details
would be kept too; answers never are.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from govuk_frontend_wtf.wtforms_widgets import GovTextInput
from markupsafe import Markup

from tellusonce.web.fragments import kept_around


class KeptTextInput(GovTextInput):
    """``GovTextInput``, kept but for the answer (see the module's docstring)."""

    def render(self, params: dict[str, Any]) -> Markup:
        value = params.get("value")
        if params.get("errorMessage") or not isinstance(value, str):
            return super().render(params)
        rest = {k: v for k, v in params.items() if k != "value"}
        return kept_around(("text-input", _frozen(rest)), value, lambda hole: super(KeptTextInput, self).render(
            {**params, "value": hole}))


def _frozen(value: Any) -> Hashable:
    """``value`` as a key: dicts and lists in their order (attributes render in it), every other
    value by its type and text (Markup and a plain string render differently)."""
    if isinstance(value, dict):
        return (dict, tuple((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (list, tuple(_frozen(v) for v in value))
    return (type(value), str(value))
