"""Configuration files read safely and checked against a schema, with one-line errors.

Every YAML file the product reads as configuration (recipients, field policy, sharing policy)
goes through `read_config` and `validate`:

- `read_config` parses with a `yaml.SafeLoader` that refuses anchors and aliases (so a
  "billion laughs" file is refused at its first anchor instead of exhausting memory), refuses
  a key given twice in one mapping (YAML would keep the last silently) and caps the file size;
- `validate` checks the document against a pydantic model whose mappings forbid unknown keys,
  so a typo such as `cadance` is an error rather than a silently ignored line.

Both raise the caller's own error type with ONE line that names the file, the key as a dotted
path and the fix, e.g. ``recipients.yaml: recipients[0].cadance: unknown key; did you mean
`cadence`? (allowed: name, class, datasets, formats, cadence, delivery)``.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

MAX_CONFIG_BYTES = 1_000_000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
Model = TypeVar("Model", bound=BaseModel)


class ConfigModel(BaseModel):
    """A mapping of a configuration file: unknown keys refused, no silent type coercion.

    `key_hints` maps a key that is not (or no longer) allowed to the fix to show for it;
    `unknown_key_note` is added to the message of any unknown key of the mapping; `example`
    shows the mapping's shape when something else stands in its place.
    """

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)
    key_hints: ClassVar[dict[str, str]] = {}
    unknown_key_note: ClassVar[str] = ""
    example: ClassVar[str] = ""


class _Refused(Exception):
    """A YAML construct this loader does not accept; `message` is already one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _at(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"


class NoAliasSafeLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` without anchors, aliases or repeated keys."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(
                f"{_at(event.start_mark)}: YAML anchors and aliases (&name, *name) are not "
                "allowed in configuration; write the value out in full"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: set[object] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = self.construct_object(key_node)
                if key in seen:
                    raise _Refused(
                        f"{_at(key_node.start_mark)}: key `{key}` appears twice in the same "
                        "mapping; keep one"
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> object:
    """Parse YAML configuration text; raise ValueError with a one-line message on refusal."""
    try:
        return yaml.load(text, Loader=NoAliasSafeLoader)
    except _Refused as exc:
        raise ValueError(exc.message) from None
    except yaml.MarkedYAMLError as exc:
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise ValueError(f"{_at(exc.problem_mark)}: {problem}; fix the YAML syntax") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML: {one_line(str(exc))}") from None
    except RecursionError:
        raise ValueError("nested too deeply to be configuration") from None


def read_config(path: Path, error: type[Exception]) -> object:
    """The parsed YAML document of `path`, or `error("<file>: <what is wrong>")`."""
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise error(
                f"{path.name}: {size:,} bytes, more than the {MAX_CONFIG_BYTES:,} a "
                "configuration file may hold"
            )
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path.name}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise error(f"{path.name}: not UTF-8 text; save it as UTF-8") from None
    try:
        return parse_yaml(text)
    except ValueError as exc:
        raise error(f"{path.name}: {exc}") from None


def validate(model: type[Model], document: object, file: str, error: type[Exception]) -> Model:
    """`document` as `model`, or `error` with one line naming the file, key and fix."""
    if document is None:
        raise error(f"{file}: the file is empty; write {_expected(model)}")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise error(f"{file}: {describe_validation_error(model, exc)}") from None


def describe_validation_error(model: type[BaseModel], exc: ValidationError) -> str:
    """The first problem of a pydantic error as `<dotted.path>: <what>; <fix>`, one line."""
    # An unknown key first: a misspelt key also makes the key it stands for missing.
    errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc = tuple(first["loc"])
    where = dotted(loc) or "the file"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return one_line(f"{where}: {_what(model, first)}{more if len(errors) > 1 else ''}")


def dotted(loc: tuple) -> str:
    """('recipients', 0, 'cadance') -> 'recipients[0].cadance'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _NAME.fullmatch(str(part)):
            text += f".{part}" if text else str(part)
        else:
            text += f"[{str(part)!r}]"
    return text


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces."""
    return " ".join(text.split())


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    """`; did you mean `x`?` for the closest choice, or nothing."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _what(model: type[BaseModel], error: dict) -> str:
    kind, loc, value = error["type"], tuple(error["loc"]), error.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        key = str(loc[-1])
        allowed = _keys(parent) if parent else []
        hint = parent.key_hints.get(key) if parent and issubclass(parent, ConfigModel) else None
        if hint:
            return f"{hint}"
        note = getattr(parent, "unknown_key_note", "") if parent else ""
        return (
            f"unknown key{did_you_mean(key, allowed)}"
            + (f" (allowed: {', '.join(allowed)})" if allowed else "")
            + (f"; {note}" if note else "")
        )
    if kind == "missing":
        return "missing; add it"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{value!r} is not allowed; use one of {expected}"
    if kind == "too_short":
        return "is empty; give at least one entry"
    if kind in ("model_type", "model_attributes_type", "dataclass_type"):
        target = _model_at(model, loc)
        return _wrong(value, _expected(target) if target else "a mapping")
    expected = _TYPE_WORDS.get(kind)
    if expected:
        fix = ""
        if isinstance(value, str) and kind in _NUMBERS:
            fix = "; write the number without quotes"
        return _wrong(value, expected) + fix
    if kind.startswith("greater_than") or kind.startswith("less_than"):
        return f"{_show(value)}: {error['msg'][0].lower()}{error['msg'][1:]}"
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    return message


_NUMBERS = ("int_type", "int_parsing", "float_type", "float_parsing", "int_from_float")
_TYPE_WORDS = {
    "dict_type": "a mapping (key: value)",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
}


def _wrong(value: object, expected: str) -> str:
    if value is None:
        return f"is empty; give {expected}"
    return f"expected {expected}, got {_show(value)}"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    return repr(value)


def _expected(model: type[BaseModel]) -> str:
    example = getattr(model, "example", "")
    if example:
        return f"a mapping such as {example}"
    keys = _keys(model)
    shown = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
    return f"a mapping with {shown}" if keys else "a mapping"


def _keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip_optional(args[0])
    if origin is typing.Annotated:
        return _strip_optional(typing.get_args(annotation)[0])
    return annotation


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc`, if the path leads to one."""
    current: Any = model
    for part in loc:
        current = _strip_optional(current)
        origin = typing.get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {(f.alias or n): f for n, f in current.model_fields.items()}
            if part not in fields:
                return None
            current = fields[part].annotation
        elif origin in (list, tuple, set, frozenset):
            current = typing.get_args(current)[0]
        elif origin is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    current = _strip_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None
