// node-postgres (pg) and postgres.js against veil serve: the information_schema and pg_catalog
// queries their ORMs run, parameterised IN lists with typed parameters, a streamed result
// (pg: a row-mode query; postgres.js: cursor()) and masked values. Usage: node check.mjs pg|postgres.
// Prints the records tests/clients/conftest.py describes; "ok"/"fail" per section.
import pg from "pg";
import postgres from "postgres";

const env = process.env;
const options = {
  host: env.VEIL_HOST, port: Number(env.VEIL_PORT), database: "veil",
  user: env.VEIL_USER, password: env.VEIL_PASSWORD,
};
const out = (...fields) => process.stdout.write(fields.map(String).join("\t") + "\n");

async function section(name, body) {
  try {
    await body();
    out("ok", name);
  } catch (error) {
    out("fail", name, error.code ?? "", String(error.message).replace(/[\t\n]/g, " "));
  }
}

const TABLES = "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1";
const COLUMNS = `SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;
const IN_LIST = "SELECT id, name FROM sales.customers WHERE id IN ($1, $2, $3) AND country <> $4 ORDER BY id";

async function withPg() {
  const client = new pg.Client(options);
  await client.connect();
  await section("version", async () => {
    out("version", (await client.query("SHOW server_version")).rows[0].server_version);
  });
  await section("tables", async () => {
    out("tables", (await client.query(TABLES, ["sales"])).rows.map((r) => r.table_name).join(","));
  });
  await section("columns", async () => {
    const rows = (await client.query({ text: COLUMNS, values: ["sales", "orders"], rowMode: "array" })).rows;
    out("columns", rows.map(([n, t]) => `${n}:${t}`).join(","));
  });
  await section("in_list", async () => {
    const rows = (await client.query(IN_LIST, [2, 3, 5, "XX"])).rows;
    out("in", rows.map((r) => `${r.id}:${r.name}`).join(","));
  });
  await section("stream", async () => {
    const result = await client.query({ text: "SELECT id, doubled, label FROM sales.big", rowMode: "array" });
    let sum = 0n;
    for (const row of result.rows) sum += BigInt(row[1]);
    out("stream", result.rows.length, sum);
  });
  await section("field_metadata", async () => {
    const result = await client.query("SELECT id, customer FROM sales.orders LIMIT 1");
    const tables = result.fields.map((f) => f.tableID);
    const check = await client.query("SELECT relname FROM pg_class WHERE oid = $1", [tables[0]]);
    out("field_table", check.rows.map((r) => r.relname).join(","), result.fields.map((f) => f.columnID).join(","));
  });
  await section("masked", async () => {
    out("masked", (await client.query("SELECT name FROM sales.customers WHERE id = $1", [1])).rows[0].name);
  });
  await client.end();
}

async function withPostgresJs() {
  const sql = postgres({ ...options, ssl: false, max: 1, idle_timeout: 5, connect_timeout: 30 });
  await section("version", async () => {
    out("version", (await sql`SHOW server_version`)[0].server_version);
  });
  await section("tables", async () => {
    const rows = await sql.unsafe(TABLES, ["sales"]);
    out("tables", rows.map((r) => r.table_name).join(","));
  });
  await section("columns", async () => {
    const rows = await sql.unsafe(COLUMNS, ["sales", "orders"]).values();
    out("columns", rows.map(([n, t]) => `${n}:${t}`).join(","));
  });
  await section("in_list", async () => {
    const rows = await sql`SELECT id, name FROM sales.customers WHERE id IN (${2}, ${3}, ${5}) AND country <> ${"XX"} ORDER BY id`;
    out("in", rows.map((r) => `${r.id}:${r.name}`).join(","));
  });
  await section("stream", async () => {
    let count = 0;
    let sum = 0n;
    await sql`SELECT id, doubled, label FROM sales.big`.cursor(5000, async (rows) => {
      count += rows.length;
      for (const row of rows) sum += BigInt(row.doubled);
    });
    out("stream", count, sum);
  });
  await section("masked", async () => {
    out("masked", (await sql`SELECT name FROM sales.customers WHERE id = ${1}`)[0].name);
  });
  await sql.end({ timeout: 5 });
}

await (process.argv[2] === "pg" ? withPg() : withPostgresJs());
