"""Checking a change against its type's schema, with errors in the citizen's terms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from tellusonce.domain.changetypes import ChangeType, Field, date_rules, get_change_type
from tellusonce.domain.fields import KINDS, TOO_LONG
from tellusonce.i18n import N_


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str  # marked with N_; translate, then format with ``params``
    params: Mapping[str, str]

    def render(self, translate: Any = None) -> str:
        """The message in the reader's language, with its labels filled in."""
        message = translate(self.message) if translate else self.message
        params = {k: (translate(v) if translate else v) for k, v in self.params.items() if k != "_lower"}
        # A label named inside a sentence is lower-cased after translation ("Enter town or city").
        for name in filter(None, self.params.get("_lower", "").split(",")):
            params[name] = _in_sentence(params[name])
        text = message % params
        return text[:1].upper() + text[1:]


def _named(f: Field, key: str = "noun") -> dict[str, str]:
    """The params that name ``f`` in a message: its label, and under ``key`` its noun (or its
    label, to be lower-cased once translated)."""
    params = {"label": f.label} if key == "noun" else {}
    if f.noun is not None:
        params[key] = f.noun
    else:
        params.update({key: f.label, "_lower": key})
    return params


def _in_sentence(label: str) -> str:
    """'Their given names' -> 'their given names'; 'National Insurance number' stays."""
    first, _, rest = label.partition(" ")
    if first == "National":
        return label
    return f"{first[:1].lower()}{first[1:]} {rest}".strip()


class ChangeInvalid(ValueError):
    def __init__(self, change_type: ChangeType, errors: list[FieldError]) -> None:
        super().__init__(", ".join(f"{e.field}: {e.render()}" for e in errors))
        self.change_type = change_type
        self.errors = errors

    def by_field(self) -> dict[str, FieldError]:
        return {e.field: e for e in self.errors}


@dataclass(frozen=True)
class ValidChange:
    change_type: ChangeType
    data: dict[str, Any]

    @property
    def effective_date(self) -> date | None:
        name = self.change_type.effective_date
        return date.fromisoformat(self.data[name]) if name and name in self.data else None

    @property
    def protected_address(self) -> bool:
        return bool(self.data.get("protected_address"))


def tidy(change_type: ChangeType, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Strip whitespace, drop empty optional answers, normalise formats, keep unknowns for the schema to refuse."""
    data: dict[str, Any] = {}
    for name, value in answers.items():
        if isinstance(value, date):
            value = value.isoformat()
        if isinstance(value, str):
            value = " ".join(value.split()) if "\n" not in value else value.strip()
            if value == "":
                continue
        if value is None:
            continue
        f = change_type._by_name.get(name)
        if f is not None and isinstance(value, str):
            normalise = KINDS[f.kind].normalise
            if callable(normalise):
                value = normalise(value)
        data[name] = value
    for f in change_type.fields:
        if f.default is not None and f.name not in data:
            data[f.name] = f.default
    return data


def validate_change(change_type_id: str, answers: Mapping[str, Any], *, today: date) -> ValidChange:
    """Validate ``answers`` for a change type; raise ``ChangeInvalid`` listing every problem."""
    change_type = get_change_type(change_type_id)
    data = tidy(change_type, answers)
    errors: dict[str, FieldError] = {}
    for error in change_type.validator().iter_errors(data):
        _add(errors, change_type, error)
    for name, message in date_rules(change_type, data, today).items():
        if name not in errors:
            errors[name] = FieldError(name, message, _named(change_type.field(name)))
    if errors:
        order = {name: i for i, name in enumerate(change_type.field_names)}
        ordered = sorted(errors.values(), key=lambda e: order.get(e.field, len(order)))
        raise ChangeInvalid(change_type, ordered)
    return ValidChange(change_type, data)


def _add(errors: dict[str, FieldError], change_type: ChangeType, error: Any) -> None:
    if error.validator == "required":
        for name in change_type.field_names:
            if f"'{name}'" in error.message and name not in errors:
                errors[name] = _missing(change_type, name)
        return
    if error.validator == "anyOf" and error.path == error.schema_path.__class__():
        first, second = (change_type.field(s["required"][0]) for s in error.validator_value)
        named = (_named(first, "first"), _named(second, "second"))
        params = {**named[0], **named[1], "_lower": ",".join(filter(None, (p.get("_lower") for p in named)))}
        errors.setdefault(first.name, FieldError(first.name, N_("Enter %(first)s or %(second)s"), params))
        return
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(change_type.field_names))
        errors.setdefault(
            "_unknown",
            FieldError("_unknown", N_("These answers are not part of this change: %(names)s"), {"names": ", ".join(unknown)}),
        )
        return
    at = error.path[0] if error.path else None
    if not isinstance(at, str) or at in errors or at not in change_type.field_names:
        return
    name = at
    f = change_type.field(name)
    kind = KINDS[f.kind]
    if error.validator == "maxLength":
        errors[name] = FieldError(name, TOO_LONG, {"label": f.label, "limit": str(error.validator_value)})
    else:
        errors[name] = FieldError(name, kind.invalid, _named(f))


def _missing(change_type: ChangeType, name: str) -> FieldError:
    f = change_type.field(name)
    return FieldError(name, KINDS[f.kind].missing, _named(f))
