"""How values are written in every output: one place, so HTML, Markdown and the CLI agree."""

from collections.abc import Mapping, Sequence
from typing import Any

MISSING = "—"


def number(value: float | None) -> str:
    """About four significant digits, thousands grouped: benchmark noise makes more meaningless."""
    if value is None:
        return MISSING
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def ratio(value: float | None) -> str:
    return MISSING if value is None else f"{value:.3f}"


def value(raw: Any) -> str:
    """Any probe value as text; a missing one as a dash, a list as its items."""
    if raw is None or raw == "":
        return MISSING
    if isinstance(raw, bool):
        return "yes" if raw else "no"
    if isinstance(raw, float):
        return number(raw)
    if isinstance(raw, int):
        return f"{raw:,}"
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        return ", ".join(value(item) for item in raw) if raw else "[]"
    if isinstance(raw, Mapping):
        return ", ".join(f"{k}={value(v)}" for k, v in raw.items())
    return str(raw)


def dig(data: Any, *keys: str) -> Any:
    """data[k1][k2]..., or None as soon as a level is missing or not an object."""
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def nullable(data: Mapping[str, Any], key: str, null: str) -> Any:
    """A field where null has a meaning (no pinning, no governor) and absence means unknown."""
    if key not in data:
        return None
    return null if data[key] is None else data[key]
