"""Text output of the benchmark: numbers, Markdown tables that fit WIDTH columns, wrapped notes."""
import math
import textwrap

WIDTH = 100  # no printed line (Markdown table rows included) is longer than this


def fmt_num(x, digits=3):
    """A float with ~`digits` significant digits, fixed-point; None/NaN -> an en dash."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    ax = abs(x)
    if ax == 0:
        return "0"
    if ax >= 10 ** (digits - 1):
        return f"{x:.0f}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(ax))))
    return f"{x:.{decimals}f}"


def fmt_ratio(x):
    return "–" if x is None else f"{fmt_num(x)}×"


def fmt_count(n):
    """1e5 for powers of ten, otherwise 3e7-style or the plain integer."""
    n = int(n)
    if n > 0:
        e = int(round(math.log10(n)))
        if 10 ** e == n and e >= 3:
            return f"1e{e}"
        m = n / 10 ** e
        if e >= 3 and m == int(m):
            return f"{int(m)}e{e}"
    return str(n)


def fmt_gap(g):
    if g is None:
        return "–"
    return "0" if g <= 0 else f"{g:.1e}"


def _table(headers, rows, align):
    cells = [[str(c) for c in headers]] + [["–" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "| " + " | ".join(
            c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align)
        ) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else (":" + "-" * (w + 1))
                         for w, a in zip(widths, align)) + "|"
    return [line(cells[0]), sep] + [line(r) for r in cells[1:]], widths


def markdown_table(headers, rows, align=None, keys=1, width=WIDTH):
    """A GitHub Markdown table; align: 'l'/'r' per column (default: first l, rest r).

    A table wider than `width` is split into several tables (separated by a blank line), each
    repeating the first `keys` columns, so every row fits.
    """
    if align is None:
        align = "l" + "r" * (len(headers) - 1)
    lines, widths = _table(headers, rows, align)
    if max(len(s) for s in lines) <= width or len(headers) <= keys + 1:
        return "\n".join(lines)
    key_w = sum(w + 3 for w in widths[:keys]) + 1
    groups, cur, used = [], [], key_w
    for i in range(keys, len(headers)):
        if cur and used + widths[i] + 3 > width:
            groups.append(cur)
            cur, used = [], key_w
        cur.append(i)
        used += widths[i] + 3
    groups.append(cur)
    parts = []
    for g in groups:
        cols = list(range(keys)) + g
        sub, _ = _table([headers[i] for i in cols], [[r[i] for i in cols] for r in rows],
                        "".join(align[i] for i in cols))
        parts.append("\n".join(sub))
    return "\n\n".join(parts)


def paragraph(text, width=WIDTH):
    """One paragraph wrapped to `width` columns (long words such as URLs are kept whole)."""
    return textwrap.fill(" ".join(text.split()), width=width, break_long_words=False,
                         break_on_hyphens=False)


def bullets(items, width=WIDTH):
    """A Markdown list, each item wrapped with a hanging indent."""
    return "\n".join(textwrap.fill(" ".join(str(it).split()), width=width, initial_indent="- ",
                                   subsequent_indent="  ", break_long_words=False,
                                   break_on_hyphens=False) for it in items)
