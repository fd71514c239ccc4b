"""PostgreSQL array text literals (``'{1,2}'``, ``'{"a b",NULL}'``), one-dimensional."""

from __future__ import annotations

from veil import errcodes


def parse_array_literal(text: str) -> list[str | None]:
    """Elements of a one-dimensional array literal; unquoted ``NULL`` is None."""
    body = text.strip()
    if body.startswith("[") and "=" in body:
        body = body.split("=", 1)[1].strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise errcodes.InvalidTextRepresentation(f'malformed array literal: "{text}"')
    body = body[1:-1]
    items: list[str | None] = []
    pos, size = 0, len(body)
    if not body.strip():
        return items
    while pos <= size:
        while pos < size and body[pos].isspace():
            pos += 1
        if pos < size and body[pos] == '"':
            pos += 1
            chars = []
            while pos < size and body[pos] != '"':
                if body[pos] == "\\" and pos + 1 < size:
                    pos += 1
                chars.append(body[pos])
                pos += 1
            if pos >= size:
                raise errcodes.InvalidTextRepresentation(f'malformed array literal: "{text}"')
            pos += 1
            items.append("".join(chars))
            while pos < size and body[pos].isspace():
                pos += 1
        else:
            end = pos
            while end < size and body[end] != ",":
                if body[end] in "{}":
                    raise errcodes.FeatureNotSupported("multidimensional arrays are not supported")
                end += 1
            raw = body[pos:end].strip()
            items.append(None if raw.upper() == "NULL" else raw.replace("\\", ""))
            pos = end
        if pos >= size:
            break
        if body[pos] != ",":
            raise errcodes.InvalidTextRepresentation(f'malformed array literal: "{text}"')
        pos += 1
    return items


def format_array_literal(values: list[object]) -> str:
    """The PostgreSQL text form of a one-dimensional array."""
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
            continue
        text = ("t" if value else "f") if isinstance(value, bool) else str(value)
        if text == "" or text.upper() == "NULL" or any(c in text for c in ' ,{}"\\\t\n'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(text)
    return "{" + ",".join(parts) + "}"
