"""Tables as data, so the HTML and the Markdown report render the very same content.

A cell carries its text, a CSS class that says what it means (kvm, xen, differs, pv, failed,
warn, long, ...), an optional hint (the full value behind a shortened one, shown on hover) and
an optional link within the page; the Markdown report keeps only the text and `differs`.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Cell:
    text: str
    css: str = ""
    hint: str = ""
    link: str = ""


@dataclass(frozen=True)
class Table:
    headers: tuple[Cell, ...]
    rows: list[tuple[Cell, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    """A titled table with a sentence or two on what it shows."""

    title: str
    text: str
    table: Table


def cells(*texts: str, css: str = "") -> tuple[Cell, ...]:
    return tuple(Cell(text, css) for text in texts)
