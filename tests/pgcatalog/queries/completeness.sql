SELECT oid, typname, typnamespace, typlen, typtype, typcategory, typelem, typarray, typinput::oid, typreceive::oid, typbasetype FROM pg_catalog.pg_type WHERE oid < 16384 ORDER BY oid
;;
SELECT 'trigger'::regtype, 'event_trigger'::regtype::oid, 'anyelement'::regtype, 'int4range'::regtype, 'int4multirange'::regtype::text, 'information_schema.sql_identifier'::regtype, 'pg_catalog.int4'::regtype
;;
SELECT '||/'::regoper::oid, '+(integer,integer)'::regoperator, '-(NONE,bigint)'::regoperator::oid, '"C"'::regcollation, 'english'::regconfig, 'simple'::regdictionary, 'version'::regproc, 'pg_catalog'::regnamespace, 'pg_monitor'::regrole
;;
SELECT p.proname, COALESCE(p.proallargtypes::regtype[], p.proargtypes::regtype[])::text[], p.prorettype::regtype::text FROM pg_catalog.pg_proc p WHERE p.proname IN ('array_to_string', 'version', 'format_type', 'textin') AND p.prorettype::regtype != 'trigger'::regtype ORDER BY 1, 2
;;
SELECT rolname, rolcanlogin, rolsuper FROM pg_catalog.pg_roles WHERE rolname ~ '^pg_' ORDER BY oid
;;
SELECT r.rolname, m.rolname FROM pg_catalog.pg_auth_members a JOIN pg_catalog.pg_roles r ON r.oid = a.roleid JOIN pg_catalog.pg_roles m ON m.oid = a.member WHERE r.rolname ~ '^pg_' ORDER BY 1, 2
;;
SELECT c.tableoid::regclass, c.relname, c.xmin IS NOT NULL, c.ctid IS NOT NULL FROM pg_catalog.pg_class c WHERE c.relname IN ('pg_class', 'pg_type') ORDER BY 2
;;
SELECT pg_catalog.pg_get_functiondef('version'::regproc), pg_catalog.pg_get_function_arguments('array_to_string(anyarray,text,text)'::regprocedure), pg_catalog.pg_get_function_identity_arguments('format_type'::regproc), pg_catalog.pg_get_function_result('pg_get_keywords'::regproc), pg_catalog.pg_get_function_sqlbody('version'::regproc)
;;
SELECT pg_catalog.pg_is_other_temp_schema(n.oid), pg_catalog.pg_index_column_has_property(0, 1, 'asc'), pg_catalog.pg_indexam_has_property(403, 'can_order'), pg_catalog.pg_indexam_has_property(405, 'can_order') FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pg_catalog'
;;
SELECT pg_catalog.array_to_string(ARRAY(SELECT attname || E':\n  ' || pg_catalog.array_to_string(attacl, E'\n  ') FROM pg_catalog.pg_attribute a WHERE attrelid = 'sales.orders'::regclass AND attacl IS NOT NULL), E'\n')
;;
SELECT option_name, option_value FROM pg_catalog.pg_options_to_table(ARRAY['fillfactor=70', 'a=b=c'])
;;
SELECT pg_catalog.oidvectortypes(p.proargtypes), pg_catalog.pg_describe_object('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_type'::regclass, 0) FROM pg_catalog.pg_proc p WHERE p.oid = 'array_to_string(anyarray,text,text)'::regprocedure
;;
SELECT * FROM pg_catalog.pg_partition_tree('sales.orders')
;;
SELECT oprname, oprleft::regtype, oprright::regtype, oprresult::regtype FROM pg_catalog.pg_operator WHERE oid = '+(integer,integer)'::regoperator
;;
SELECT cfgname FROM pg_catalog.pg_ts_config ORDER BY 1
;;
SELECT rngtypid::regtype, rngsubtype::regtype FROM pg_catalog.pg_range ORDER BY 1
