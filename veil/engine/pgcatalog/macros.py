"""DuckDB macros (schema ``veil_fn``) implementing PostgreSQL catalog functions at run time.

Constant arguments are resolved at compile time in Python (:mod:`.objects`); these macros cover
the rest (``c.oid::regclass::text``, ``to_regtype($1)``, ``format_type(atttypid, atttypmod)``)
and follow the same rules. Errors carry their SQLSTATE as a ``[XXXXX]`` prefix that the engine
turns back into a :class:`veil.errors.VeilError`.
"""

from __future__ import annotations

C = "veil_pg_catalog"
F = "veil_fn"

MACROS: tuple[str, ...] = (
    # --- identifiers -------------------------------------------------------------------------
    f"""CREATE MACRO {F}.quote_ident(s) AS CASE
        WHEN s IS NULL THEN NULL
        WHEN regexp_full_match(s, '[a-z_][a-z0-9_$]*')
             AND NOT EXISTS (SELECT 1 FROM {F}.keywords k WHERE k.word = s AND k.catcode <> 'U')
        THEN s ELSE '"' || replace(s, '"', '""') || '"' END""",
    f"""CREATE MACRO {F}.quote_literal(s) AS CASE WHEN s IS NULL THEN NULL
        WHEN contains(CAST(s AS VARCHAR), '\\')
        THEN 'E''' || replace(replace(CAST(s AS VARCHAR), '\\', '\\\\'), '''', '''''') || ''''
        ELSE '''' || replace(CAST(s AS VARCHAR), '''', '''''') || '''' END""",
    f"""CREATE MACRO {F}.parse_ident(s) AS list_transform(
        regexp_extract_all(s, '("(?:[^"]|"")*"|[^."]+)'),
        lambda p: CASE WHEN starts_with(p, '"') THEN replace(p[2:-2], '""', '"') ELSE lower(trim(p)) END)""",
    # --- arrays ------------------------------------------------------------------------------
    f"""CREATE MACRO {F}.array_in(s) AS CASE WHEN s IS NULL THEN NULL
        WHEN trim(s) = '{{}}' THEN CAST([] AS VARCHAR[])
        ELSE list_transform(
            regexp_extract_all(trim(s)[2:-2], '("(?:[^"\\\\]|\\\\.)*"|[^,]+)'),
            lambda e: CASE WHEN starts_with(trim(e), '"')
                      THEN regexp_replace(trim(e)[2:-2], '\\\\(.)', '\\1', 'g')
                      WHEN upper(trim(e)) = 'NULL' THEN NULL ELSE trim(e) END) END""",
    f"""CREATE MACRO {F}.array_out(a) AS CASE WHEN a IS NULL THEN NULL ELSE
        '{{' || array_to_string(list_transform(a, lambda e: CASE
            WHEN e IS NULL THEN 'NULL'
            WHEN CAST(e AS VARCHAR) = '' OR upper(CAST(e AS VARCHAR)) = 'NULL'
                 OR regexp_matches(CAST(e AS VARCHAR), '[\\s,{{}}"\\\\]')
            THEN '"' || replace(replace(CAST(e AS VARCHAR), '\\', '\\\\'), '"', '\\"') || '"'
            ELSE CAST(e AS VARCHAR) END), ',') || '}}' END""",
    # --- visibility --------------------------------------------------------------------------
    f"""CREATE MACRO {F}.pg_table_is_visible(rel, sp) AS CASE WHEN rel IS NULL THEN NULL ELSE
        coalesce((SELECT bool_or(list_contains(sp, n.nspname) AND NOT EXISTS (
            SELECT 1 FROM {C}.pg_class c2 JOIN {C}.pg_namespace n2 ON n2.oid = c2.relnamespace
            WHERE c2.relname = c.relname
              AND list_position(sp, n2.nspname) < list_position(sp, n.nspname)))
        FROM {C}.pg_class c JOIN {C}.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = rel), false) END""",    f"""CREATE MACRO {F}.pg_type_is_visible(typ, sp) AS CASE WHEN typ IS NULL THEN NULL ELSE
        coalesce((SELECT bool_or(list_contains(sp, n.nspname)) FROM {C}.pg_type t
        JOIN {C}.pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = typ), false) END""",    # --- reg* input/output -------------------------------------------------------------------
    f"""CREATE MACRO {F}.regclass_in(s, sp, strict) AS (
        SELECT CASE
            WHEN s IS NULL THEN NULL
            WHEN regexp_full_match(trim(s), '[0-9]+') THEN CAST(trim(s) AS UINTEGER)
            WHEN found IS NOT NULL OR NOT strict THEN found
            ELSE error('[42P01] relation "' || s || '" does not exist') END
        FROM (SELECT (
            SELECT c.oid FROM {C}.pg_class c JOIN {C}.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname = p[-1] AND CASE WHEN len(p) = 1 THEN list_contains(sp, n.nspname)
                                             ELSE n.nspname = p[-2] END
            ORDER BY list_position(sp, n.nspname) LIMIT 1) AS found
            FROM (SELECT {F}.parse_ident(s) AS p)))""",
    f"""CREATE MACRO {F}.regclass_out(rel, sp) AS CASE WHEN rel IS NULL THEN NULL ELSE coalesce(
        (SELECT CASE WHEN {F}.pg_table_is_visible(c.oid, sp) THEN {F}.quote_ident(c.relname)
                ELSE {F}.quote_ident(n.nspname) || '.' || {F}.quote_ident(c.relname) END
         FROM {C}.pg_class c JOIN {C}.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = rel LIMIT 1), CAST(rel AS VARCHAR)) END""",    f"""CREATE MACRO {F}.regtype_in(s, strict) AS (
        SELECT CASE
            WHEN s IS NULL THEN NULL
            WHEN regexp_full_match(trim(s), '[0-9]+') THEN CAST(trim(s) AS UINTEGER)
            WHEN found IS NOT NULL OR NOT strict THEN found
            ELSE error('[42704] type "' || s || '" does not exist') END
        FROM (SELECT coalesce(
            (SELECT oid FROM {F}.type_spellings WHERE spelling = lower(regexp_replace(
                regexp_replace(trim(s), '\\s*\\(\\s*\\d+\\s*(,\\s*\\d+\\s*)?\\)', ''),
                '^"?pg_catalog"?\\.', ''))),
            (SELECT t.oid FROM {C}.pg_type t JOIN {C}.pg_namespace n ON n.oid = t.typnamespace
             WHERE t.typname = {F}.parse_ident(s)[-1]
               AND (len({F}.parse_ident(s)) = 1 OR n.nspname = {F}.parse_ident(s)[-2])
             LIMIT 1)) AS found))""",
    f"""CREATE MACRO {F}.regtype_out(typ, sp) AS CASE WHEN typ IS NULL THEN NULL ELSE coalesce(
        (SELECT CASE WHEN n.nspname = 'pg_catalog' THEN {F}.format_type(t.oid, NULL)
                     WHEN list_contains(sp, n.nspname) THEN {F}.quote_ident(t.typname)
                     ELSE {F}.quote_ident(n.nspname) || '.' || {F}.quote_ident(t.typname) END
         FROM {C}.pg_type t JOIN {C}.pg_namespace n ON n.oid = t.typnamespace
         WHERE t.oid = typ LIMIT 1), CAST(typ AS VARCHAR)) END""",    f"""CREATE MACRO {F}.regproc_in(s, strict) AS (
        SELECT CASE WHEN s IS NULL THEN NULL
            WHEN regexp_full_match(trim(s), '[0-9]+') THEN CAST(trim(s) AS UINTEGER)
            WHEN found IS NOT NULL OR NOT strict THEN found
            ELSE error('[42883] function "' || s || '" does not exist') END
        FROM (SELECT (SELECT min(oid) FROM {C}.pg_proc
                      WHERE proname = {F}.parse_ident(split_part(s, '(', 1))[-1]) AS found))""",
    f"""CREATE MACRO {F}.regproc_out(p) AS CASE WHEN p IS NULL THEN NULL WHEN p = 0 THEN '-'
        ELSE coalesce((SELECT min(proname) FROM {C}.pg_proc WHERE oid = p), CAST(p AS VARCHAR))
        END""",
    f"""CREATE MACRO {F}.regnamespace_in(s, strict) AS (
        SELECT CASE WHEN s IS NULL THEN NULL
            WHEN regexp_full_match(trim(s), '[0-9]+') THEN CAST(trim(s) AS UINTEGER)
            WHEN found IS NOT NULL OR NOT strict THEN found
            ELSE error('[3F000] schema "' || s || '" does not exist') END
        FROM (SELECT (SELECT min(oid) FROM {C}.pg_namespace
                      WHERE nspname = {F}.parse_ident(s)[1]) AS found))""",
    f"""CREATE MACRO {F}.regnamespace_out(o) AS CASE WHEN o IS NULL THEN NULL ELSE coalesce(
        (SELECT {F}.quote_ident(min(nspname)) FROM {C}.pg_namespace WHERE oid = o),
        CAST(o AS VARCHAR)) END""",
    f"""CREATE MACRO {F}.regrole_in(s, strict) AS (
        SELECT CASE WHEN s IS NULL THEN NULL
            WHEN regexp_full_match(trim(s), '[0-9]+') THEN CAST(trim(s) AS UINTEGER)
            WHEN found IS NOT NULL OR NOT strict THEN found
            ELSE error('[42704] role "' || s || '" does not exist') END
        FROM (SELECT (SELECT min(oid) FROM {C}.pg_authid
                      WHERE rolname = {F}.parse_ident(s)[1]) AS found))""",
    f"""CREATE MACRO {F}.regrole_out(o) AS CASE WHEN o IS NULL THEN NULL ELSE coalesce(
        (SELECT {F}.quote_ident(min(rolname)) FROM {C}.pg_authid WHERE oid = o),
        CAST(o AS VARCHAR)) END""",
    # --- type formatting ---------------------------------------------------------------------
    f"""CREATE MACRO {F}.typmod_text(name, base, m) AS CASE
        WHEN m IS NULL OR m < 0 THEN base
        WHEN name = 'numeric' AND m >= 4
            THEN 'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) || ')'
        WHEN name IN ('varchar', 'bpchar') AND m >= 4 THEN base || '(' || (m - 4) || ')'
        WHEN name IN ('bit', 'varbit') THEN base || '(' || m || ')'
        WHEN name IN ('timestamp', 'timestamptz', 'time', 'timetz')
            THEN replace(base, split_part(base, ' ', 1),
                         split_part(base, ' ', 1) || '(' || m || ')')
        WHEN name = 'interval' AND m & 65535 <> 65535 THEN base || '(' || (m & 65535) || ')'
        ELSE base END""",
    f"""CREATE MACRO {F}.format_type(typ, m) AS CASE WHEN typ IS NULL THEN NULL ELSE coalesce(
        (SELECT CASE WHEN f.name = 'bpchar' AND m IS NOT NULL AND m < 0 THEN 'bpchar' || f.suffix
                     ELSE {F}.typmod_text(f.name, f.base, m) || f.suffix END
         FROM {F}.type_format f WHERE f.oid = typ LIMIT 1), '???') END""",    # --- descriptions and owners -------------------------------------------------------------
    f"""CREATE MACRO {F}.pg_get_userbyid(r) AS CASE WHEN r IS NULL THEN NULL ELSE coalesce(
        (SELECT min(rolname) FROM {C}.pg_authid WHERE oid = r), 'unknown (OID=' || r || ')') END""",
    f"""CREATE MACRO {F}.obj_description(o, cls) AS (
        SELECT min(d.description) FROM {C}.pg_description d
        WHERE d.objoid = o AND d.objsubid = 0 AND (cls IS NULL OR d.classoid = cls))""",
    f"""CREATE MACRO {F}.col_description(o, n) AS (
        SELECT min(d.description) FROM {C}.pg_description d
        WHERE d.objoid = o AND d.objsubid = n AND d.classoid = 1259)""",
    f"""CREATE MACRO {F}.shobj_description(o, cls) AS (
        SELECT min(d.description) FROM {C}.pg_shdescription d
        WHERE d.objoid = o AND d.classoid = cls)""",
    f"""CREATE MACRO {F}.pg_get_function_result(p) AS (
        SELECT {F}.format_type(min(prorettype), NULL) FROM {C}.pg_proc WHERE oid = p)""",
    f"""CREATE MACRO {F}.pg_relation_is_publishable(rel) AS CASE WHEN rel IS NULL THEN NULL ELSE
        coalesce((SELECT bool_or(c.relkind IN ('r', 'p')
                                 AND n.nspname NOT IN ('pg_catalog', 'information_schema'))
        FROM {C}.pg_class c JOIN {C}.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = rel), false) END""",    # --- settings and encodings --------------------------------------------------------------
    f"""CREATE MACRO {F}.current_setting(name, missing_ok, overrides) AS CASE
        WHEN name IS NULL THEN NULL ELSE coalesce(
            overrides[lower(name)],
            (SELECT min(value) FROM {F}.setting_defaults WHERE setting = lower(name)),
            CASE WHEN missing_ok THEN NULL
                 ELSE error('[42704] unrecognized configuration parameter "' || name || '"') END)
        END""",
    f"""CREATE MACRO {F}.pg_encoding_to_char(e) AS CASE e
        WHEN 0 THEN 'SQL_ASCII' WHEN 6 THEN 'UTF8' WHEN 8 THEN 'LATIN1' WHEN 7 THEN 'MULE_INTERNAL'
        WHEN 1 THEN 'EUC_JP' WHEN 24 THEN 'WIN1252' ELSE '' END""",
    f"""CREATE MACRO {F}.pg_char_to_encoding(s) AS CASE upper(replace(s, '-', ''))
        WHEN 'SQL_ASCII' THEN 0 WHEN 'UTF8' THEN 6 WHEN 'LATIN1' THEN 8 WHEN 'WIN1252' THEN 24
        ELSE -1 END""",
    f"""CREATE MACRO {F}.pg_size_pretty(b) AS CASE
        WHEN b IS NULL THEN NULL
        WHEN abs(b) < 10240 THEN CAST(b AS BIGINT) || ' bytes'
        WHEN abs(b) < 10240 * 1024 THEN CAST(round(b / 1024) AS BIGINT) || ' kB'
        WHEN abs(b) < 10240 * 1024 * 1024 THEN CAST(round(b / 1048576) AS BIGINT) || ' MB'
        WHEN abs(b) < 10240 * 1024 * 1024 * 1024
            THEN CAST(round(b / 1073741824) AS BIGINT) || ' GB'
        ELSE CAST(round(b / 1099511627776) AS BIGINT) || ' TB' END""",
)
