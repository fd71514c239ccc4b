"""``to_char(numeric | int2 | int4 | int8, template)``: PostgreSQL's number templates as a DuckDB
expression.

PostgreSQL prints a number by walking the template with the number's digit string
(``NUM_processor`` in formatting.c): the string is the value rounded to the template's digits
after the point (``numeric_round``, or the integer with zeros appended), and what each template
position prints depends on only a few facts about it: its sign, how many digits precede the
point (the leading blanks), whether the integer part is ``0``, and in fill mode (``FM``) the last
fractional digit that is not a trailing zero. :func:`_layout` runs PostgreSQL's walk once per
possible combination, on a digit string whose characters are placeholders; each outcome becomes
one branch of a ``CASE`` whose pieces are substrings of the digit string DuckDB computes.

Supported: ``9``, ``0``, ``.``/``D``, ``,``/``G``, ``FM``, ``S``, ``MI``, ``PL``, ``SG``, ``PR``
and literal text. Anything else (``L``, ``EEEE``, ``RN``, ``V``, ``TH``, ``B``, a float argument,
whose digits PostgreSQL cuts at 15 significant ones, a computed numeric, which DuckDB may hold as
a double) is refused with 0A000.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from veil.errcodes import FeatureNotSupported

_KEYWORDS = sorted(
    ", . 0 9 B C D EEEE FM G L MI PL PR RN SG SP S TH V b c d eeee fm g l mi pl pr rn sg sp s th v".split(),
    key=len,
    reverse=True,
)
_SUPPORTED = frozenset(", . 0 9 D FM G MI PL PR SG S d fm g mi pl pr sg s".split())
_INTEGERS = frozenset({"int2", "int4", "int8"})
S = "vl__s"  # the digit string (no sign)
NEG = "vl__neg"  # whether the value is negative
LEN = "vl__len"  # how many digits precede the point
ZERO = "vl__zero"  # whether the integer part is 0
LAST = "vl__last"  # the point's index, or the last fractional digit's that is not 0


@dataclass
class _Desc:
    """PostgreSQL's NUMDesc: what the template asks for."""

    pre: int = 0
    post: int = 0
    decimal: bool = False
    zero: bool = False
    zero_start: int = 0
    zero_end: int = 0
    fill: bool = False
    lsign: int = 0  # -1 before the number, 1 after, 0 none
    pre_lsign_num: int = 0
    minus: bool = False
    plus: bool = False
    bracket: bool = False
    nodes: list[tuple[str, str]] = field(default_factory=list)  # ("kw", name) or ("ch", char)


def _refuse(template: str, why: str) -> FeatureNotSupported:
    return FeatureNotSupported(f'to_char of a number with template "{template}" is not supported: {why}')


@functools.lru_cache(maxsize=256)
def _describe(template: str) -> _Desc:
    desc = _Desc()
    i = 0
    while i < len(template):
        keyword = next((k for k in _KEYWORDS if template.startswith(k, i)), None)
        if keyword is None:
            if template[i] == '"':
                end = template.find('"', i + 1)
                if end < 0 or "\\" in template[i:end]:
                    raise _refuse(template, "quoted text")
                desc.nodes += [("ch", c) for c in template[i + 1 : end]]
                i = end + 1
                continue
            desc.nodes.append(("ch", template[i]))
            i += 1
            continue
        i += len(keyword)
        if keyword not in _SUPPORTED:
            raise _refuse(template, f'pattern "{keyword}"')
        name = keyword.upper()
        _prepare(desc, name, template)
        desc.nodes.append(("kw", name))
    if desc.decimal and desc.post == 0:
        raise _refuse(template, "a decimal point without digits after it")
    return desc


def _prepare(desc: _Desc, name: str, template: str) -> None:
    """NUMDesc_prepare for the supported patterns (a combination PostgreSQL rejects is refused)."""
    if name in ("9", "0"):
        if desc.bracket:
            raise _refuse(template, '"9" after "PR"')
        if name == "0" and not desc.zero and not desc.decimal:
            desc.zero, desc.zero_start = True, desc.pre + 1
        if desc.decimal:
            desc.post += 1
        else:
            desc.pre += 1
        if name == "0":
            desc.zero_end = desc.pre + desc.post
    elif name in (".", "D"):
        if desc.decimal:
            raise _refuse(template, "multiple decimal points")
        desc.decimal = True
    elif name == "FM":
        desc.fill = True
    elif name == "S":
        if desc.lsign or desc.plus or desc.minus or desc.bracket:
            raise _refuse(template, '"S" with another sign')
        if not desc.decimal:
            desc.lsign, desc.pre_lsign_num = -1, desc.pre
        else:
            desc.lsign = 1
    elif name in ("MI", "PL", "SG"):
        if desc.lsign:
            raise _refuse(template, f'"S" and "{name}" together')
        desc.minus |= name in ("MI", "SG")
        desc.plus |= name in ("PL", "SG")
    elif name == "PR":
        if desc.lsign or desc.plus or desc.minus:
            raise _refuse(template, '"PR" with another sign')
        desc.bracket = True


Token = str | int  # literal text, or the index of a character of the digit string


def _layout(desc: _Desc, digits: int, negative: bool, zero_int: bool, last: int | None) -> list[Token]:
    """PostgreSQL's NUM_processor (to_char) for a number of ``digits`` digits before the point
    (0: too many for the template, printed as ``#``), on a digit string of placeholders."""
    overflow = digits == 0
    number: list[str] = (["#"] * desc.pre + ["."] + ["#"] * desc.post) if overflow else (
        ["d"] * digits + (["."] + ["d"] * desc.post if desc.post else [])
    )
    # What each character of the digit string prints: itself when overflowed, else its index.
    numstr_tokens: list[Token] = [c if overflow else i for i, c in enumerate(number)]
    out_pre_spaces = 0 if overflow else desc.pre - digits
    sign = "-" if negative else "+"
    zero_start = desc.zero_start - 1 if desc.zero_start else 0
    bracket, minus, plus, lsign = desc.bracket, desc.minus, desc.plus, desc.lsign
    if plus or minus:
        sign_wrote = not (plus and not minus)
    else:
        if sign != "-" and bracket and desc.fill:
            bracket = False
        sign_wrote = sign == "+" and desc.fill and not lsign
        if lsign == -1 and desc.pre == desc.pre_lsign_num:
            lsign = 1
    num_count = desc.post + desc.pre - 1
    if not sign_wrote and out_pre_spaces == 0:
        num_count += 1

    def char(index: int) -> str:
        return number[index] if index < len(number) else "\0"

    out: list[Token] = []
    number_p = 0
    num_in = False
    num_curr = 0

    def predec_space() -> bool:
        return not desc.zero and number_p == 0 and zero_int and desc.post != 0

    last_is_point = last is not None and char(last) == "."
    for kind, name in desc.nodes:
        if kind == "ch":
            out.append(name)
            continue
        if name in ("9", "0", ".", "D"):
            num_in = False
            if not sign_wrote and (num_curr >= out_pre_spaces or (desc.zero and zero_start == num_curr)) and (
                not predec_space() or last_is_point
            ):
                if lsign:
                    if lsign == -1:
                        out.append(sign)
                        sign_wrote = True
                elif bracket:
                    out.append(" " if sign == "+" else "<")
                    sign_wrote = True
                elif sign == "+":
                    if not desc.fill:
                        out.append(" ")
                    sign_wrote = True
                else:
                    out.append("-")
                    sign_wrote = True
            if num_curr < out_pre_spaces and (zero_start > num_curr or not desc.zero):
                if not desc.fill:
                    out.append(" ")
            elif desc.zero and num_curr < out_pre_spaces and zero_start <= num_curr:
                out.append("0")
                num_in = True
            else:
                if char(number_p) == ".":
                    if not last_is_point or desc.fill:
                        out.append(".")
                elif last is not None and number_p > last and name != "0":
                    pass
                elif predec_space():
                    if not desc.fill:
                        out.append(" ")
                    elif last_is_point:
                        out.append("0")
                else:
                    if number_p >= len(number):
                        raise FeatureNotSupported("to_char of a number: template digits beyond the number")
                    out.append(numstr_tokens[number_p])
                    num_in = True
                number_p += 1
            end = num_count + (1 if out_pre_spaces else 0) + (1 if desc.decimal else 0)
            if last is not None and last == number_p:
                end = num_curr
            if num_curr + 1 == end:
                if sign_wrote and bracket:
                    out.append(" " if sign == "+" else ">")
                elif lsign == 1:
                    out.append(sign)
            num_curr += 1
        elif name in (",", "G"):
            if not num_in:
                if not desc.fill:
                    out.append(" ")
            else:
                out.append(",")
        elif name == "MI":
            if sign == "-":
                out.append("-")
            elif not desc.fill:
                out.append(" ")
        elif name == "PL":
            if sign == "+":
                out.append("+")
            elif not desc.fill:
                out.append(" ")
        elif name == "SG":
            out.append(sign)
    return out


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql(tokens: list[Token]) -> str:
    """The pieces as one DuckDB concatenation (runs of digit-string characters as substrings)."""
    parts: list[str] = []
    literal = ""
    run: list[int] = []

    def flush_run() -> None:
        if run:
            parts.append(f"substr({S}, {run[0] + 1}, {len(run)})")
            run.clear()

    for token in tokens:
        if isinstance(token, int):
            if literal:
                parts.append(_quote(literal))
                literal = ""
            if run and token != run[-1] + 1:
                flush_run()
            run.append(token)
        else:
            flush_run()
            literal += token
    flush_run()
    if literal:
        parts.append(_quote(literal))
    return " || ".join(parts) if parts else "''"


@functools.lru_cache(maxsize=256)
def _compiled(template: str) -> str:
    """The CASE over every case :func:`_layout` distinguishes, in terms of S and NEG."""
    desc = _describe(template)
    length = LEN
    branches: list[str] = []
    for digits in range(1, desc.pre + 1):
        zero_cases = (True, False) if digits == 1 else (False,)
        for zero_int in zero_cases:
            for negative in (True, False):
                lasts: list[int | None] = [None]
                condition = [f"{length} = {digits}", NEG if negative else f"NOT {NEG}"]
                if digits == 1:
                    condition.append(ZERO if zero_int else f"NOT {ZERO}")
                if desc.fill and desc.decimal:
                    lasts = [None, *range(digits, digits + desc.post + 1)]
                for last in lasts:
                    tokens = _layout(desc, digits, negative, zero_int, last)
                    branches.append(f"WHEN {' AND '.join([*condition, _last_condition(desc, digits, last)])} "
                                    f"THEN {_sql(tokens)}")
    for negative in (True, False):
        overflow = _layout(desc, 0, negative, False, None)
        branches.append(f"WHEN {NEG if negative else f'NOT {NEG}'} THEN {_sql(overflow)}")
    return f"CASE {' '.join(branches)} END"


def _last_condition(desc: _Desc, digits: int, last: int | None) -> str:
    """When ``last`` is the last relevant character PostgreSQL finds in fill mode
    (get_last_relevant_decnum, searching from the template's last ``0`` on)."""
    if not (desc.fill and desc.decimal):
        return "true"
    start = max(desc.zero_end - (desc.pre - digits), 0)
    point = digits  # the point's index in the digit string
    if start > point:
        return "true" if last is None else "false"
    if last is None:
        return "false"
    return f"{LAST} = {last}"


#: The DuckDB built-ins the printed expressions call.
EMITTED = frozenset({"substr", "strpos", "length", "rtrim", "greatest", "nullif", "coalesce", "abs", "round"})


def _exact(argument: exp.Expr) -> bool:
    """Whether DuckDB holds the numeric ``argument`` as a DECIMAL (a column, a literal, a cast;
    a computed numeric may be a DOUBLE there, whose rounding is not PostgreSQL's)."""
    while isinstance(argument, exp.Neg | exp.Paren):
        argument = argument.this
    return isinstance(argument, exp.Column | exp.Literal | exp.Cast)


def numeric_to_char(argument: exp.Expr, template: str, kind: str) -> exp.Expr:
    """The DuckDB expression printing ``argument`` (a value of PostgreSQL type ``kind``) with
    ``template`` as PostgreSQL's to_char does; 0A000 for what it cannot print so."""
    if kind not in _INTEGERS and not (kind == "numeric" and _exact(argument)):
        raise _refuse(template, f"a {kind} argument")
    tree = _tree(template, kind in _INTEGERS).copy()
    for column in list(tree.find_all(exp.Column)):
        if column.name == f"{S}_x":
            column.replace(argument.copy())
    return tree


@functools.lru_cache(maxsize=256)
def _tree(template: str, integer: bool) -> exp.Expr:
    desc = _describe(template)
    if desc.pre == 0:
        raise _refuse(template, "no digits before the point")
    if integer:
        value = f"CAST({S}_x AS HUGEINT)"
        digits = f"CAST(abs({value}) AS VARCHAR)" + (f" || '.{'0' * desc.post}'" if desc.post else "")
    else:
        value = f"CAST(round({S}_x, {desc.post}) AS DECIMAL(38, {desc.post}))"
        digits = f"CAST(abs({value}) AS VARCHAR)"
    body = _compiled(template)
    facts = (f"SELECT {S}, {NEG}, coalesce(nullif(strpos({S}, '.'), 0) - 1, length({S})) AS {LEN}, "
             f"substr({S}, 1, 1) = '0' AS {ZERO}, "
             f"greatest(length(rtrim({S}, '0')) - 1, coalesce(nullif(strpos({S}, '.'), 0) - 1, 0)) AS {LAST} "
             f"FROM (SELECT {digits} AS {S}, {value} < 0 AS {NEG})")
    sql = f"CASE WHEN {S}_x IS NULL THEN NULL ELSE (SELECT {body} FROM ({facts})) END"
    return sqlglot.parse_one(sql, read="duckdb")
