"""Strict reading of govrag's JSON answers: a missing or mistyped field is a `ProtocolError` naming its path.

Fields the service adds later are ignored, so an older client keeps working against a newer service; a field
the client relies on that is absent or of another type means the answer is not govrag's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from govrag_client._errors import ProtocolError

T = TypeVar("T")

_MISSING = object()


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


class JsonObject:
    """One JSON object of an answer; `where` is its path in the answer, for error messages."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected an object, got {_kind(value)}")
        self.raw: dict[str, Any] = value
        self.where = where

    def _wrong(self, name: str, expected: str, value: object) -> ProtocolError:
        return ProtocolError(f"{self.where}.{name}: expected {expected}, got {_kind(value)}")

    def _get(self, name: str, expected: str) -> object:
        value = self.raw.get(name, _MISSING)
        if value is _MISSING:
            raise ProtocolError(f"{self.where}.{name}: missing (expected {expected})")
        return value

    def text(self, name: str) -> str:
        value = self._get(name, "a string")
        if not isinstance(value, str):
            raise self._wrong(name, "a string", value)
        return value

    def opt_text(self, name: str) -> str | None:
        """A string, null, or absent (None)."""
        value = self.raw.get(name)
        if value is not None and not isinstance(value, str):
            raise self._wrong(name, "a string or null", value)
        return value

    def integer(self, name: str) -> int:
        value = self._get(name, "an integer")
        # bool is an int in Python, never in JSON.
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._wrong(name, "an integer", value)
        return value

    def opt_integer(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise self._wrong(name, "an integer or null", value)
        return value

    def number(self, name: str) -> float:
        value = self._get(name, "a number")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._wrong(name, "a number", value)
        return float(value)

    def opt_number(self, name: str) -> float | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._wrong(name, "a number or null", value)
        return float(value)

    def flag(self, name: str) -> bool:
        value = self._get(name, "a boolean")
        if not isinstance(value, bool):
            raise self._wrong(name, "a boolean", value)
        return value

    def opt_flag(self, name: str) -> bool | None:
        value = self.raw.get(name)
        if value is not None and not isinstance(value, bool):
            raise self._wrong(name, "a boolean or null", value)
        return value

    def time(self, name: str) -> datetime:
        return self._parse_time(name, self.text(name))

    def opt_time(self, name: str) -> datetime | None:
        value = self.opt_text(name)
        return None if value is None else self._parse_time(name, value)

    def _parse_time(self, name: str, value: str) -> datetime:
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:
            raise ProtocolError(f"{self.where}.{name}: not an ISO 8601 time: {value[:40]!r}") from exc

    def texts(self, name: str, *, required: bool = True) -> tuple[str, ...]:
        """A list of strings; `required=False`: absent reads as empty (a field the service added later)."""
        items = self._list(name, required)
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise ProtocolError(f"{self.where}.{name}[{index}]: expected a string, got {_kind(item)}")
        return tuple(items)

    def objects(self, name: str, parse: Callable[[JsonObject], T], *, required: bool = True) -> tuple[T, ...]:
        items = self._list(name, required)
        return tuple(parse(JsonObject(item, f"{self.where}.{name}[{i}]")) for i, item in enumerate(items))

    def obj(self, name: str, parse: Callable[[JsonObject], T]) -> T:
        return parse(JsonObject(self._get(name, "an object"), f"{self.where}.{name}"))

    def opt_obj(self, name: str, parse: Callable[[JsonObject], T]) -> T | None:
        value = self.raw.get(name)
        return None if value is None else parse(JsonObject(value, f"{self.where}.{name}"))

    def opt_mapping(self, name: str) -> dict[str, Any] | None:
        value = self.raw.get(name)
        if value is not None and not isinstance(value, dict):
            raise self._wrong(name, "an object or null", value)
        return value

    def opt_counts(self, name: str) -> dict[str, int] | None:
        """A JSON object of names to whole numbers (entity type -> count), or null/absent."""
        value = self.opt_mapping(name)
        if value is not None and not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value.values()
        ):
            raise self._wrong(name, "an object of counts or null", value)
        return value

    def _list(self, name: str, required: bool) -> list[Any]:
        value = self._get(name, "a list") if required else self.raw.get(name, [])
        if not isinstance(value, list):
            raise self._wrong(name, "a list", value)
        return value


def json_list(value: object, where: str, parse: Callable[[JsonObject], T]) -> tuple[T, ...]:
    """An answer that is a JSON list of objects."""
    if not isinstance(value, list):
        raise ProtocolError(f"{where}: expected a list, got {_kind(value)}")
    return tuple(parse(JsonObject(item, f"{where}[{i}]")) for i, item in enumerate(value))
