"""DuckDB macros (schema ``veil_fn``) implementing PostgreSQL catalog functions at run time.

Constant arguments are resolved at compile time in Python (:mod:`.objects`); these macros cover
the rest (``c.oid::regclass::text``, ``to_regtype($1)``, ``format_type(atttypid, atttypmod)``)
and follow the same rules. Errors carry their SQLSTATE as a ``[XXXXX]`` prefix that the engine
turns back into a :class:`veil.errors.VeilError`.

Hygiene: DuckDB expands macros by substitution, so an argument such as an unqualified ``oid``
would be captured by a table inside the macro that has an ``oid`` column. Macro bodies
therefore read only the ``veil_fn`` lookup tables, whose columns and aliases all start with
``vl__`` (see :mod:`.database`), never the catalog relations themselves.
"""

from __future__ import annotations

import re

from veil.pgcatalog.data.static_rows import ENCODINGS

F = "veil_fn"
# PostgreSQL's encodings by number and by name (compared as PostgreSQL's clean_encoding_name
# does: lower case, letters and digits only, so 'utf-8' and 'UTF8' are one).
_ENCODING_NAMES = " ".join(f"WHEN {code} THEN '{name}'" for name, code in ENCODINGS.items())
# PostgreSQL's other names of encodings (pg_encname_tbl), cleaned.
_ENCODING_ALIASES = {
    "abc": "WIN1258",
    "tcvn": "WIN1258",
    "tcvn5712": "WIN1258",
    "vscii": "WIN1258",
    "alt": "WIN866",
    "windows866": "WIN866",
    "koi8": "KOI8R",
    "mskanji": "SJIS",
    "shiftjis": "SJIS",
    "unicode": "UTF8",
    "win": "WIN1251",
    "windows874": "WIN874",
    **{f"windows{n}": f"WIN{n}" for n in range(1250, 1259)},
    **{
        f"iso8859{n}": f"LATIN{latin}"
        for n, latin in ((1, 1), (2, 2), (3, 3), (4, 4), (9, 5), (10, 6), (13, 7), (14, 8), (15, 9), (16, 10))
    },
}
_ENCODING_CODES = " ".join(
    [f"WHEN '{re.sub('[^a-z0-9]', '', name.lower())}' THEN {code}" for name, code in ENCODINGS.items()]
    + [f"WHEN '{alias}' THEN {ENCODINGS[name]}" for alias, name in _ENCODING_ALIASES.items()]
)


def _reg_in(kind: str, sqlstate: str, noun: str) -> str:
    """``{kind}_in(s, strict)``: an OID written as digits, else ``{kind}_lookup(s)``; a name that
    names nothing fails when ``strict`` as PostgreSQL's input function does (``[sqlstate] noun
    "s" does not exist``), else is NULL (``to_{kind}``)."""
    return f"""CREATE MACRO {F}.{kind}_in(s, strict) AS CASE WHEN s IS NULL THEN NULL
        WHEN regexp_full_match(trim(s), '[0-9]+') THEN CAST(trim(s) AS UINTEGER)
        WHEN {F}.{kind}_lookup(s) IS NOT NULL OR NOT strict THEN {F}.{kind}_lookup(s)
        ELSE error('[{sqlstate}] {noun} "' || s || '" does not exist') END"""


def _reg_named(kind: str, table: str, column: str, sqlstate: str, noun: str) -> tuple[str, str, str]:
    """The lookup, input and output macros of a reg type naming an object of ``table`` by one
    unqualified name in ``column`` (regnamespace, regrole). Each macro's alias is its own, so an
    argument that names another macro's alias is never captured (see the module's docstring)."""
    lookup, out = f"vl__{kind}_l", f"vl__{kind}_o"
    return (
        f"""CREATE MACRO {F}.{kind}_lookup(s) AS (
        SELECT min({lookup}.vl__oid) FROM {F}.{table} {lookup} WHERE {lookup}.vl__{column} = {F}.parse_ident(s)[1])""",
        _reg_in(kind, sqlstate, noun),
        f"""CREATE MACRO {F}.{kind}_out(o) AS CASE WHEN o IS NULL THEN NULL WHEN o = 0 THEN '-' ELSE coalesce(
        (SELECT {F}.quote_ident(min({out}.vl__{column})) FROM {F}.{table} {out} WHERE {out}.vl__oid = o),
        CAST(o AS VARCHAR)) END""",
    )


MACROS: tuple[str, ...] = (
    # --- identifiers -------------------------------------------------------------------------
    f"""CREATE MACRO {F}.quote_ident(s) AS CASE
        WHEN s IS NULL THEN NULL
        WHEN regexp_full_match(s, '[a-z_][a-z0-9_$]*') AND NOT EXISTS (
            SELECT 1 FROM {F}.keywords vl__qi WHERE vl__qi.vl__word = s AND vl__qi.vl__catcode <> 'U')
        THEN s ELSE '"' || replace(s, '"', '""') || '"' END""",
    f"""CREATE MACRO {F}.quote_literal(s) AS CASE WHEN s IS NULL THEN NULL
        WHEN contains(CAST(s AS VARCHAR), '\\')
        THEN 'E''' || replace(replace(CAST(s AS VARCHAR), '\\', '\\\\'), '''', '''''') || ''''
        ELSE '''' || replace(CAST(s AS VARCHAR), '''', '''''') || '''' END""",
    f"""CREATE MACRO {F}.parse_ident(s) AS list_transform(
        regexp_extract_all(s, '("(?:[^"]|"")*"|[^."]+)'),
        lambda vl__p: CASE WHEN starts_with(vl__p, '"') THEN replace(vl__p[2:-2], '""', '"')
                           ELSE lower(trim(vl__p)) END)""",
    # --- arrays ------------------------------------------------------------------------------
    f"""CREATE MACRO {F}.array_in(s) AS CASE WHEN s IS NULL THEN NULL
        WHEN trim(s) = '{{}}' THEN CAST([] AS VARCHAR[])
        ELSE list_transform(
            regexp_extract_all(trim(s)[2:-2], '("(?:[^"\\\\]|\\\\.)*"|[^,]+)'),
            lambda vl__e: CASE WHEN starts_with(trim(vl__e), '"')
                      THEN regexp_replace(trim(vl__e)[2:-2], '\\\\(.)', '\\1', 'g')
                      WHEN upper(trim(vl__e)) = 'NULL' THEN NULL ELSE trim(vl__e) END) END""",
    f"""CREATE MACRO {F}.array_out(a) AS CASE WHEN a IS NULL THEN NULL ELSE
        '{{' || array_to_string(list_transform(a, lambda vl__e: CASE
            WHEN vl__e IS NULL THEN 'NULL'
            WHEN CAST(vl__e AS VARCHAR) = '' OR upper(CAST(vl__e AS VARCHAR)) = 'NULL'
                 OR regexp_matches(CAST(vl__e AS VARCHAR), '[\\s,{{}}"\\\\]')
            THEN '"' || replace(replace(CAST(vl__e AS VARCHAR), '\\', '\\\\'), '"', '\\"') || '"'
            WHEN CAST(vl__e AS VARCHAR) IN ('true', 'false')
            THEN left(CAST(vl__e AS VARCHAR), 1)
            ELSE CAST(vl__e AS VARCHAR) END), ',') || '}}' END""",
    # --- visibility --------------------------------------------------------------------------
    f"""CREATE MACRO {F}.pg_table_is_visible(rel, sp) AS CASE WHEN rel IS NULL THEN NULL ELSE
        coalesce((SELECT list_contains(sp, vl__tv.vl__nspname) AND NOT EXISTS (
            SELECT 1 FROM {F}.rel_info vl__tv2 WHERE vl__tv2.vl__relname = vl__tv.vl__relname
              AND list_position(sp, vl__tv2.vl__nspname) < list_position(sp, vl__tv.vl__nspname))
        FROM {F}.rel_info vl__tv WHERE vl__tv.vl__oid = rel), false) END""",
    f"""CREATE MACRO {F}.pg_type_is_visible(typ, sp) AS CASE WHEN typ IS NULL THEN NULL ELSE
        coalesce((SELECT list_contains(sp, vl__yv.vl__nspname) FROM {F}.type_info vl__yv
                  WHERE vl__yv.vl__oid = typ), false) END""",
    # --- reg* input/output -------------------------------------------------------------------
    f"""CREATE MACRO {F}.regclass_lookup(p, sp) AS (
        SELECT vl__rl.vl__oid FROM {F}.rel_info vl__rl
        WHERE vl__rl.vl__relname = p[-1] AND CASE WHEN len(p) = 1 THEN list_contains(sp, vl__rl.vl__nspname)
                                           ELSE vl__rl.vl__nspname = p[-2] END
        ORDER BY list_position(sp, vl__rl.vl__nspname) LIMIT 1)""",
    f"""CREATE MACRO {F}.regclass_in(s, sp, strict) AS CASE
        WHEN s IS NULL THEN NULL
        WHEN regexp_full_match(trim(s), '[0-9]+') THEN CAST(trim(s) AS UINTEGER)
        WHEN {F}.regclass_lookup({F}.parse_ident(s), sp) IS NOT NULL OR NOT strict
        THEN {F}.regclass_lookup({F}.parse_ident(s), sp)
        ELSE error('[42P01] relation "' || s || '" does not exist') END""",
    f"""CREATE MACRO {F}.regclass_out(rel, sp) AS CASE WHEN rel IS NULL THEN NULL WHEN rel = 0 THEN '-' ELSE coalesce(
        (SELECT CASE WHEN {F}.pg_table_is_visible(vl__ro.vl__oid, sp) THEN {F}.quote_ident(vl__ro.vl__relname)
                ELSE {F}.quote_ident(vl__ro.vl__nspname) || '.' || {F}.quote_ident(vl__ro.vl__relname) END
         FROM {F}.rel_info vl__ro WHERE vl__ro.vl__oid = rel), CAST(rel AS VARCHAR)) END""",
    f"""CREATE MACRO {F}.regtype_lookup(s, sp) AS coalesce(
        (SELECT vl__tl.vl__oid FROM {F}.type_spellings vl__tl WHERE vl__tl.vl__spelling = lower(regexp_replace(
            regexp_replace(trim(s), '\\s*\\(\\s*\\d+\\s*(,\\s*\\d+\\s*)?\\)', ''),
            '^"?pg_catalog"?\\.', ''))),
        (SELECT vl__tl.vl__oid FROM {F}.type_info vl__tl
         WHERE vl__tl.vl__typname = {F}.parse_ident(s)[-1]
           AND CASE WHEN len({F}.parse_ident(s)) = 1
                    THEN vl__tl.vl__nspname = 'pg_catalog' OR list_contains(sp, vl__tl.vl__nspname)
                    ELSE vl__tl.vl__nspname = {F}.parse_ident(s)[-2] END
         ORDER BY vl__tl.vl__nspname <> 'pg_catalog', list_position(sp, vl__tl.vl__nspname)
         LIMIT 1))""",
    f"""CREATE MACRO {F}.regtype_in(s, sp, strict) AS CASE
        WHEN s IS NULL THEN NULL
        WHEN regexp_full_match(trim(s), '[0-9]+') THEN CAST(trim(s) AS UINTEGER)
        WHEN {F}.regtype_lookup(s, sp) IS NOT NULL OR NOT strict THEN {F}.regtype_lookup(s, sp)
        ELSE error('[42704] type "' || s || '" does not exist') END""",
    f"""CREATE MACRO {F}.regtype_out(typ, sp) AS CASE WHEN typ IS NULL THEN NULL WHEN typ = 0 THEN '-' ELSE coalesce(
        (SELECT {F}.format_type(vl__to.vl__oid, NULL, sp)
         FROM {F}.type_info vl__to WHERE vl__to.vl__oid = typ), CAST(typ AS VARCHAR)) END""",
    f"""CREATE MACRO {F}.regproc_lookup(s) AS (
        SELECT min(vl__pl.vl__oid) FROM {F}.proc_info vl__pl
        WHERE vl__pl.vl__proname = {F}.parse_ident(split_part(s, '(', 1))[-1])""",
    _reg_in("regproc", "42883", "function"),
    f"""CREATE MACRO {F}.regproc_out(p) AS CASE WHEN p IS NULL THEN NULL WHEN p = 0 THEN '-'
        ELSE coalesce((SELECT min(vl__po.vl__regproc) FROM {F}.proc_info vl__po WHERE vl__po.vl__oid = p),
                      CAST(p AS VARCHAR)) END""",
    f"""CREATE MACRO {F}.regprocedure_out(p) AS CASE WHEN p IS NULL THEN NULL WHEN p = 0 THEN '-'
        ELSE coalesce((SELECT min(vl__ps.vl__signature) FROM {F}.proc_info vl__ps WHERE vl__ps.vl__oid = p),
                      CAST(p AS VARCHAR)) END""",
    *_reg_named("regnamespace", "nsp_info", "nspname", "3F000", "schema"),
    *_reg_named("regrole", "role_info", "rolname", "42704", "role"),
    f"""CREATE MACRO {F}.regnamed_lookup(k, s) AS (
        SELECT min(vl__nl.vl__oid) FROM {F}.reg_names vl__nl
        WHERE vl__nl.vl__kind = k AND CASE
            WHEN k = 'regoperator' THEN replace(vl__nl.vl__name, ' ', '') = replace(trim(s), ' ', '')
            WHEN k = 'regoper' THEN vl__nl.vl__name = split_part(trim(s), '.', -1)
            ELSE vl__nl.vl__name = {F}.parse_ident(s)[-1] END)""",
    f"""CREATE MACRO {F}.regnamed_in(k, s, strict, msg, tail) AS CASE WHEN s IS NULL THEN NULL
        WHEN regexp_full_match(trim(s), '[0-9]+') THEN CAST(trim(s) AS UINTEGER)
        WHEN {F}.regnamed_lookup(k, s) IS NOT NULL OR NOT strict THEN {F}.regnamed_lookup(k, s)
        ELSE error(msg || s || tail) END""",
    f"""CREATE MACRO {F}.regnamed_out(k, o) AS CASE WHEN o IS NULL THEN NULL
        WHEN o = 0 THEN CASE WHEN starts_with(k, 'regoper') THEN '0' ELSE '-' END
        ELSE coalesce((SELECT min(vl__no2.vl__name) FROM {F}.reg_output_names vl__no2
                       WHERE vl__no2.vl__kind = k AND vl__no2.vl__oid = o),
                      (SELECT {F}.quote_ident(min(vl__no3.vl__name)) FROM {F}.reg_names vl__no3
                       WHERE vl__no3.vl__kind = k AND vl__no3.vl__oid = o),
                      CAST(o AS VARCHAR)) END""",
    # --- type formatting ---------------------------------------------------------------------
    f"""CREATE MACRO {F}.typmod_text(vl_name, vl_base, m) AS CASE
        WHEN m IS NULL OR m < 0 THEN vl_base
        WHEN vl_name = 'numeric' AND m >= 4
            THEN 'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) || ')'
        WHEN vl_name IN ('varchar', 'bpchar') AND m >= 4 THEN vl_base || '(' || (m - 4) || ')'
        WHEN vl_name IN ('bit', 'varbit') THEN vl_base || '(' || m || ')'
        WHEN vl_name IN ('timestamp', 'timestamptz', 'time', 'timetz')
            THEN regexp_replace(vl_base, '^(\\w+)', '\\1(' || m || ')')
        WHEN vl_name = 'interval' AND m & 65535 <> 65535 THEN vl_base || '(' || (m & 65535) || ')'
        ELSE vl_base END""",
    # A type outside the search path is schema-qualified, as PostgreSQL's format_type does.
    f"""CREATE MACRO {F}.format_type(typ, m, sp) AS CASE WHEN typ IS NULL THEN NULL WHEN typ = 0 THEN '-'
        ELSE coalesce((SELECT CASE WHEN vl__ft.vl__nspname = 'pg_catalog' OR list_contains(sp, vl__ft.vl__nspname)
                                   THEN '' ELSE {F}.quote_ident(vl__ft.vl__nspname) || '.' END
                              || CASE WHEN vl__ft.vl__name = 'bpchar' AND m IS NOT NULL AND m < 0
                                      THEN 'bpchar' || vl__ft.vl__suffix
                                      ELSE {F}.typmod_text(vl__ft.vl__name, vl__ft.vl__base, m) || vl__ft.vl__suffix END
         FROM {F}.type_info vl__ft WHERE vl__ft.vl__oid = typ), '???') END""",
    # --- descriptions and owners -------------------------------------------------------------
    f"""CREATE MACRO {F}.pg_get_userbyid(r) AS CASE WHEN r IS NULL THEN NULL ELSE coalesce(
        (SELECT min(vl__gu.vl__rolname) FROM {F}.role_info vl__gu WHERE vl__gu.vl__oid = r),
        'unknown (OID=' || r || ')') END""",
    f"""CREATE MACRO {F}.obj_description(o, cls) AS (
        SELECT min(vl__od.vl__description) FROM {F}.descriptions vl__od
        WHERE vl__od.vl__objoid = o AND vl__od.vl__objsubid = 0 AND (cls IS NULL OR vl__od.vl__classoid = cls))""",
    # Keys (see .keys): a foreign key's referenced table is printed as regclass prints it.
    f"""CREATE MACRO {F}.object_def(o, c, sp) AS (
        SELECT min(vl__dd.vl__before || CASE WHEN vl__dd.vl__ref = 0 THEN ''
                   ELSE {F}.regclass_out(vl__dd.vl__ref, sp) END || vl__dd.vl__after)
        FROM {F}.object_defs vl__dd WHERE vl__dd.vl__oid = o AND vl__dd.vl__col = c)""",
    f"""CREATE MACRO {F}.col_description(o, n) AS (
        SELECT min(vl__cd.vl__description) FROM {F}.descriptions vl__cd
        WHERE vl__cd.vl__objoid = o AND vl__cd.vl__objsubid = n AND vl__cd.vl__classoid = 1259)""",
    *(
        f"""CREATE MACRO {F}.{name}(p) AS (
            SELECT min(vl__ft.vl__{column}) FROM {F}.function_text vl__ft WHERE vl__ft.vl__oid = p)"""
        for name, column in (
            ("pg_get_function_arguments", "arguments"),
            ("pg_get_function_identity_arguments", "identity"),
            ("pg_get_function_result", "result"),
            ("pg_get_functiondef", "definition"),
            ("pg_get_function_sqlbody", "sqlbody"),
        )
    ),
    # Index access methods' properties (amvalidate.c): what btree and hash can do.
    f"""CREATE MACRO {F}.pg_indexam_has_property(am, prop) AS CASE
        WHEN am IS NULL OR prop IS NULL THEN NULL
        WHEN am NOT IN (403, 405, 783, 2742, 4000, 3580) THEN NULL
        WHEN lower(prop) = 'can_order' THEN am = 403
        WHEN lower(prop) IN ('can_unique', 'can_multi_col') THEN am IN (403, 783, 2742, 3580)
             AND (lower(prop) = 'can_multi_col' OR am = 403)
        WHEN lower(prop) = 'can_exclude' THEN am IN (403, 405, 783, 4000)
        WHEN lower(prop) = 'can_include' THEN am IN (403, 783, 4000)
        ELSE NULL END""",
    f"""CREATE MACRO {F}.pg_relation_is_publishable(rel) AS CASE WHEN rel IS NULL THEN NULL ELSE
        coalesce((SELECT vl__rp.vl__relkind IN ('r', 'p')
                         AND vl__rp.vl__nspname NOT IN ('pg_catalog', 'information_schema')
                  FROM {F}.rel_info vl__rp WHERE vl__rp.vl__oid = rel), false) END""",
    # --- settings and encodings --------------------------------------------------------------
    f"""CREATE MACRO {F}.current_setting(vl_name, missing_ok, overrides) AS CASE
        WHEN vl_name IS NULL THEN NULL ELSE coalesce(
            overrides[lower(vl_name)],
            (SELECT min(vl__cs.vl__value) FROM {F}.setting_defaults vl__cs
             WHERE vl__cs.vl__setting = lower(vl_name)),
            CASE WHEN missing_ok THEN NULL
                 ELSE error('[42704] unrecognized configuration parameter "' || vl_name || '"')
            END) END""",
    f"""CREATE MACRO {F}.pg_encoding_to_char(e) AS CASE e {_ENCODING_NAMES} ELSE '' END""",
    f"""CREATE MACRO {F}.pg_char_to_encoding(s) AS CASE regexp_replace(lower(s), '[^a-z0-9]', '', 'g')
        {_ENCODING_CODES} ELSE -1 END""",
    f"""CREATE MACRO {F}.pg_size_pretty(b) AS CASE
        WHEN b IS NULL THEN NULL
        WHEN abs(CAST(b AS DOUBLE)) < 10240 THEN CAST(b AS BIGINT) || ' bytes'
        WHEN abs(CAST(b AS DOUBLE)) < 10485760 THEN CAST(round(b / 1024) AS BIGINT) || ' kB'
        WHEN abs(CAST(b AS DOUBLE)) < 10737418240 THEN CAST(round(b / 1048576) AS BIGINT) || ' MB'
        WHEN abs(CAST(b AS DOUBLE)) < 10995116277760
            THEN CAST(round(b / 1073741824) AS BIGINT) || ' GB'
        ELSE CAST(round(b / 1099511627776) AS BIGINT) || ' TB' END""",
)
