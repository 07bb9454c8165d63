"""A package's public names, imported from its modules only when first used (PEP 562).

For facades that should cost nothing to import: `intake.profiles` (a line spooled with no
profile never loads the engine or re2) and `emulator` (the CLI's start never loads the
server). In the package's __init__.py:

    __getattr__, __dir__ = lazy_names(__name__, {"Emulator": "server", ...}, __all__)

Its names stay visible to type checkers through an `if TYPE_CHECKING:` import block.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(
    package: str, homes: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level __getattr__ and __dir__ of `package`, where `homes` maps each public
    name to the module (within the package) it lives in."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        vars(sys.modules[package])[name] = value  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return __getattr__, __dir__
