"""A small name -> object registry, the pattern every pluggable part uses."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from pebench.core.errors import PebenchError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects (methods, judges, renderers, model builders).

    `register(name)` is a decorator; `get(name)` raises a PebenchError listing the
    known names when the name is unknown.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise PebenchError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise PebenchError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def values(self) -> list[T]:
        """The registered objects in registration order."""
        return list(self._items.values())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
