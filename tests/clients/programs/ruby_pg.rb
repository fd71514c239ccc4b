# Ruby pg (Debian ruby-pg) against veil serve: exec_params with typed parameters, a single-row
# mode stream, copy_data (COPY ... TO STDOUT), the catalog queries Rails' PostgreSQL adapter runs
# for table and column lists, and masked values. Prints the records tests/clients/conftest.py
# describes; "ok"/"fail" per section.
require "pg"

$stdout.sync = true
conn = PG.connect(host: ENV["VEIL_HOST"], port: ENV["VEIL_PORT"].to_i, dbname: "veil",
                  user: ENV["VEIL_USER"], password: ENV["VEIL_PASSWORD"], sslmode: "disable")

def section(conn, name)
  yield
  puts "ok\t#{name}"
rescue PG::Error => e
  state = e.respond_to?(:result) && e.result ? e.result.error_field(PG::Result::PG_DIAG_SQLSTATE) : ""
  puts "fail\t#{name}\t#{state}\t#{e.message.gsub(/[\t\n]/, ' ')}"
end

section(conn, "version") { puts "version\t#{conn.parameter_status('server_version')}" }
section(conn, "tables") do
  # ActiveRecord::ConnectionAdapters::PostgreSQL::SchemaStatements#data_source_sql
  rows = conn.exec(<<~SQL).values.flatten.sort
    SELECT c.relname FROM pg_class c LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY (current_schemas(false)) AND c.relkind IN ('r','p') AND n.nspname = 'sales'
  SQL
  puts "tables\t#{rows.join(',')}"
end
section(conn, "columns") do
  # ActiveRecord's column_definitions
  result = conn.exec_params(<<~SQL, ["sales.orders"])
    SELECT a.attname, format_type(a.atttypid, a.atttypmod),
           pg_get_expr(d.adbin, d.adrelid), a.attnotnull, a.atttypid, a.atttypmod,
           c.collname, col_description(a.attrelid, a.attnum) AS comment,
           attidentity AS identity, attgenerated as attgenerated
      FROM pg_attribute a
      LEFT JOIN pg_attrdef d ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      LEFT JOIN pg_type t ON a.atttypid = t.oid
      LEFT JOIN pg_collation c ON a.attcollation = c.oid AND a.attcollation <> t.typcollation
     WHERE a.attrelid = $1::regclass
       AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum
  SQL
  puts "columns\t#{result.values.map { |r| "#{r[0]}:#{r[1]}" }.join(',')}"
end
section(conn, "exec_params") do
  sql = "SELECT id, name FROM sales.customers WHERE id IN ($1, $2, $3) AND country <> $4 ORDER BY id"
  result = conn.exec_params(sql, [2, 3, 5, "XX"])
  puts "in\t#{result.values.map { |id, name| "#{id}:#{name}" }.join(',')}"
end
section(conn, "single_row_mode") do
  conn.send_query("SELECT id, doubled, label FROM sales.big")
  conn.set_single_row_mode
  count = 0
  sum = 0
  while (result = conn.get_result)
    result.check
    result.each_row { |row| count += 1; sum += row[1].to_i }
    result.clear
  end
  puts "stream\t#{count}\t#{sum}"
end
section(conn, "copy_data") do
  lines = []
  conn.copy_data("COPY (SELECT id, customer FROM sales.orders ORDER BY id) TO STDOUT") do
    while (line = conn.get_copy_data)
      lines << line.chomp
    end
  end
  puts "copy\t#{lines.map { |l| l.split("\t").join(':') }.join(',')}"
end
section(conn, "masked") do
  puts "masked\t#{conn.exec_params('SELECT name FROM sales.customers WHERE id = $1', [1]).getvalue(0, 0)}"
end
conn.close
