import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.postgresql.PGResultSetMetaData;
import org.postgresql.PGStatement;

/**
 * Drives pgJDBC against a PostgreSQL-compatible server and prints what it observed.
 *
 * <p>Usage: {@code java -cp postgresql.jar:. VeilJdbcCheck JDBC_URL USER PASSWORD}. Every output line
 * is tab-separated: a record kind, then fields (tabs, newlines and backslashes escaped). Each check
 * runs in its own section that ends with {@code ok NAME} or {@code fail NAME SQLSTATE MESSAGE}, so a
 * failure in one section does not hide the results of the others. The Python test asserts on values.
 */
public final class VeilJdbcCheck {
    private static final String ORDERS_BY_ID =
        "select id, customer, amount, created from sales.orders where id = ?";
    private static final String ALL_TYPES =
        "select b, i2, i4, i8, f4, f8, n, t, bt, d, tm, ts, tstz, iv, u, j, ai, atx"
            + " from sales.all_types order by i4 nulls last";
    private static final long[] PREPARED_IDS = {1, 3, 4};
    private static final int PREPARED_ROUNDS = 8;

    @FunctionalInterface
    private interface Check {
        void run(Connection connection) throws Exception;
    }

    private VeilJdbcCheck() {}

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        props.setProperty("ApplicationName", "VeilJdbcCheck");
        try (Connection connection = DriverManager.getConnection(args[0], props)) {
            DatabaseMetaData meta = connection.getMetaData();
            emit("connected", meta.getDatabaseProductName(), meta.getDatabaseProductVersion(),
                String.valueOf(meta.getDatabaseMajorVersion()), meta.getDriverVersion());
            section(connection, "tables", VeilJdbcCheck::tables);
            section(connection, "columns", VeilJdbcCheck::columns);
            section(connection, "schemas", VeilJdbcCheck::schemas);
            section(connection, "keys", VeilJdbcCheck::keys);
            section(connection, "metadata", VeilJdbcCheck::metadata);
            section(connection, "prepared", VeilJdbcCheck::prepared);
            section(connection, "fetch", VeilJdbcCheck::fetch);
            section(connection, "errors", VeilJdbcCheck::errors);
            section(connection, "types_text", c -> types(c, false));
            section(connection, "types_binary", c -> types(c, true));
            section(connection, "masked", VeilJdbcCheck::masked);
            section(connection, "any_array", VeilJdbcCheck::anyArray);
            section(connection, "final", c -> emit("final", scalar(c, "select 'still alive'")));
        } catch (SQLException e) {
            emit("fail", "connect", String.valueOf(e.getSQLState()), String.valueOf(e.getMessage()));
            System.exit(2);
        }
    }

    private static void section(Connection connection, String name, Check check) {
        try {
            check.run(connection);
            emit("ok", name);
        } catch (SQLException e) {
            emit("fail", name, String.valueOf(e.getSQLState()), String.valueOf(e.getMessage()));
        } catch (Exception e) {
            emit("fail", name, "", e.toString());
        } finally {
            try {
                if (!connection.getAutoCommit()) {
                    connection.rollback();
                    connection.setAutoCommit(true);
                }
            } catch (SQLException ignored) {
                // The next section reports whether the connection is still usable.
            }
        }
    }

    private static void tables(Connection connection) throws SQLException {
        DatabaseMetaData meta = connection.getMetaData();
        try (ResultSet rs = meta.getTables(null, null, "%", new String[] {"TABLE"})) {
            while (rs.next()) {
                emit("table", rs.getString("TABLE_SCHEM"), rs.getString("TABLE_NAME"), rs.getString("TABLE_TYPE"));
            }
        }
        try (ResultSet rs = meta.getTables(null, "hr", "%", null)) {
            while (rs.next()) {
                emit("hr_table", rs.getString("TABLE_SCHEM"), rs.getString("TABLE_NAME"));
            }
        }
    }

    private static void columns(Connection connection) throws SQLException {
        try (ResultSet rs = connection.getMetaData().getColumns(null, "sales", "orders", "%")) {
            while (rs.next()) {
                emit("column", rs.getString("COLUMN_NAME"), String.valueOf(rs.getInt("DATA_TYPE")),
                    rs.getString("TYPE_NAME"), String.valueOf(rs.getInt("ORDINAL_POSITION")));
            }
        }
    }

    private static void schemas(Connection connection) throws SQLException {
        try (ResultSet rs = connection.getMetaData().getSchemas()) {
            while (rs.next()) {
                emit("schema", rs.getString("TABLE_SCHEM"));
            }
        }
    }

    /** customers.name through a prepared {@code = ANY(?)} bound to a java.sql.Array of int8. */
    private static void anyArray(Connection connection) throws SQLException {
        String sql = "select id, name from sales.customers where id = any(?) order by id";
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            ps.setArray(1, connection.createArrayOf("int8", new Long[] {4L, 7L}));
            try (ResultSet rs = ps.executeQuery()) {
                StringBuilder rows = new StringBuilder();
                while (rs.next()) {
                    rows.append(rows.length() == 0 ? "" : ",").append(rs.getLong(1)).append(':').append(rs.getString(2));
                }
                emit("any", rows.toString());
            }
        }
    }

    /** customers.name through a prepared IN list, and what ResultSetMetaData says of it. */
    private static void masked(Connection connection) throws SQLException {
        String sql = "select id, name from sales.customers where id in (?, ?, ?) and country <> ? order by id";
        try (PreparedStatement ps = connection.prepareStatement(sql)) {
            ps.setLong(1, 1);
            ps.setInt(2, 2);
            ps.setLong(3, 3);
            ps.setString(4, "XX");
            try (ResultSet rs = ps.executeQuery()) {
                StringBuilder rows = new StringBuilder();
                while (rs.next()) {
                    rows.append(rows.length() == 0 ? "" : ",").append(rs.getLong(1)).append(':').append(rs.getString(2));
                }
                ResultSetMetaData meta = rs.getMetaData();
                emit("masked", rows.toString(), meta.getTableName(2),
                     ((PGResultSetMetaData) meta).getBaseSchemaName(2),
                     meta.getColumnName(2), String.valueOf(meta.isNullable(2)));
            }
        }
    }

    private static void keys(Connection connection) throws SQLException {
        DatabaseMetaData meta = connection.getMetaData();
        emit("primary_keys", String.valueOf(count(meta.getPrimaryKeys(null, "sales", "orders"))));
        emit("index_info", String.valueOf(count(meta.getIndexInfo(null, "sales", "orders", false, true))));
    }

    @FunctionalInterface
    private interface MetaCall {
        ResultSet call(DatabaseMetaData meta) throws SQLException;
    }

    /** Each DatabaseMetaData call on its own: {@code meta NAME ROWS} or {@code meta_fail NAME STATE MESSAGE}. */
    private static void metaCall(DatabaseMetaData meta, String name, MetaCall call) {
        try {
            emit("meta", name, String.valueOf(count(call.call(meta))));
        } catch (SQLException e) {
            emit("meta_fail", name, String.valueOf(e.getSQLState()), String.valueOf(e.getMessage()));
        }
    }

    /**
     * The DatabaseMetaData calls tools (DBeaver, IntelliJ, Spark's JDBC reader) make beyond tables and
     * columns (getSuperTables, getAttributes and getPseudoColumns are not implemented by pgJDBC itself).
     */
    private static void metadata(Connection connection) throws SQLException {
        DatabaseMetaData meta = connection.getMetaData();
        metaCall(meta, "catalogs", DatabaseMetaData::getCatalogs);
        metaCall(meta, "table_types", DatabaseMetaData::getTableTypes);
        metaCall(meta, "type_info", DatabaseMetaData::getTypeInfo);
        metaCall(meta, "schemas_pattern", m -> m.getSchemas(null, "sal%"));
        metaCall(meta, "functions", m -> m.getFunctions(null, "pg_catalog", "version"));
        metaCall(meta, "function_columns", m -> m.getFunctionColumns(null, "pg_catalog", "version", null));
        metaCall(meta, "procedures", m -> m.getProcedures(null, "sales", "%"));
        metaCall(meta, "procedure_columns", m -> m.getProcedureColumns(null, "sales", "%", "%"));
        metaCall(meta, "imported_keys", m -> m.getImportedKeys(null, "sales", "orders"));
        metaCall(meta, "exported_keys", m -> m.getExportedKeys(null, "sales", "orders"));
        metaCall(meta, "cross_reference", m -> m.getCrossReference(null, "sales", "customers", null, "sales", "orders"));
        metaCall(meta, "best_row_identifier",
            m -> m.getBestRowIdentifier(null, "sales", "orders", DatabaseMetaData.bestRowSession, true));
        metaCall(meta, "version_columns", m -> m.getVersionColumns(null, "sales", "orders"));
        metaCall(meta, "table_privileges", m -> m.getTablePrivileges(null, "sales", "orders"));
        metaCall(meta, "column_privileges", m -> m.getColumnPrivileges(null, "sales", "orders", "%"));
        metaCall(meta, "udts", m -> m.getUDTs(null, "sales", "%", null));
        metaCall(meta, "client_info_properties", DatabaseMetaData::getClientInfoProperties);
    }

    /** One statement, executed PREPARED_ROUNDS times per id: pgJDBC switches to S_n + binary at round 5. */
    private static void prepared(Connection connection) throws SQLException {
        try (PreparedStatement ps = connection.prepareStatement(ORDERS_BY_ID)) {
            for (int round = 1; round <= PREPARED_ROUNDS; round++) {
                for (long id : PREPARED_IDS) {
                    ps.setLong(1, id);
                    try (ResultSet rs = ps.executeQuery()) {
                        boolean serverPrepared = ps.unwrap(PGStatement.class).isUseServerPrepare();
                        int rows = 0;
                        while (rs.next()) {
                            rows++;
                            emit("prepared", String.valueOf(id), String.valueOf(round), String.valueOf(serverPrepared),
                                formats(rs), String.valueOf(rs.getLong("id")), str(rs.getString("customer")),
                                str(rs.getBigDecimal("amount")), str(rs.getTimestamp("created")));
                        }
                        emit("prepared_rows", String.valueOf(id), String.valueOf(round), String.valueOf(rows));
                    }
                }
            }
        }
    }

    /** autocommit off + fetch size: named portal, Execute(max_rows=1000), PortalSuspended until done. */
    private static void fetch(Connection connection) throws SQLException {
        connection.setAutoCommit(false);
        long rows = 0;
        long sum = 0;
        long previous = -1;
        boolean ordered = true;
        try (Statement st = connection.createStatement()) {
            st.setFetchSize(1000);
            try (ResultSet rs = st.executeQuery("select id from sales.big order by id")) {
                while (rs.next()) {
                    long id = rs.getLong(1);
                    ordered &= id > previous;
                    previous = id;
                    sum += id;
                    rows++;
                }
            }
        }
        connection.commit();
        connection.setAutoCommit(true);
        emit("fetch", String.valueOf(rows), String.valueOf(sum), String.valueOf(ordered));
    }

    private static void errors(Connection connection) throws SQLException {
        connection.setAutoCommit(false);
        emit("syntax_error", sqlState(connection, "selec 1"));
        emit("in_failed_transaction", sqlState(connection, "select 1"));
        connection.rollback();
        emit("after_rollback", scalar(connection, "select 42"));
        connection.setAutoCommit(true);
        emit("hidden_table", sqlState(connection, "select * from hr.salaries"));
        emit("after_hidden_table", scalar(connection, "select count(*) from sales.orders"));
    }

    private static void types(Connection connection, boolean binary) throws SQLException {
        String mode = binary ? "binary" : "text";
        if (!binary) {
            try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery(ALL_TYPES)) {
                emitTypes(rs, mode);
            }
            return;
        }
        try (PreparedStatement ps = connection.prepareStatement(ALL_TYPES)) {
            for (int round = 1; round < PREPARED_ROUNDS; round++) {
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        rs.getObject(1);
                    }
                }
            }
            try (ResultSet rs = ps.executeQuery()) {
                emitTypes(rs, mode);
            }
        }
    }

    private static void emitTypes(ResultSet rs, String mode) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        PGResultSetMetaData pgmd = md.unwrap(PGResultSetMetaData.class);
        int row = 0;
        while (rs.next()) {
            row++;
            for (int i = 1; i <= md.getColumnCount(); i++) {
                Object value = rs.getObject(i);
                String className = value == null ? "null" : value.getClass().getSimpleName();
                emit("type", mode, String.valueOf(row), md.getColumnLabel(i), md.getColumnTypeName(i),
                    String.valueOf(md.getColumnType(i)), String.valueOf(pgmd.getFormat(i)), className,
                    render(value), str(rs.getString(i)));
            }
        }
        emit("type_rows", mode, String.valueOf(row));
    }

    private static String formats(ResultSet rs) throws SQLException {
        PGResultSetMetaData pgmd = rs.getMetaData().unwrap(PGResultSetMetaData.class);
        StringBuilder formats = new StringBuilder();
        for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
            formats.append(pgmd.getFormat(i));
        }
        return formats.toString();
    }

    private static String sqlState(Connection connection, String sql) {
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return "none";
        } catch (SQLException e) {
            return String.valueOf(e.getSQLState());
        }
    }

    private static String scalar(Connection connection, String sql) throws SQLException {
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? str(rs.getString(1)) : "no rows";
        }
    }

    private static int count(ResultSet rs) throws SQLException {
        try (rs) {
            int n = 0;
            while (rs.next()) {
                n++;
            }
            return n;
        }
    }

    private static String render(Object value) throws SQLException {
        if (value instanceof Array array) {
            Object elements = array.getArray();
            return elements instanceof Object[] objects ? Arrays.deepToString(objects) : String.valueOf(elements);
        }
        if (value instanceof byte[] bytes) {
            StringBuilder hex = new StringBuilder("0x");
            for (byte b : bytes) {
                hex.append(String.format("%02x", b));
            }
            return hex.toString();
        }
        if (value instanceof BigDecimal decimal) {
            return decimal.toPlainString();
        }
        return str(value);
    }

    private static String str(Object value) {
        return value == null ? "NULL" : value.toString();
    }

    private static void emit(String kind, String... fields) {
        List<String> parts = new ArrayList<>();
        parts.add(kind);
        for (String field : fields) {
            parts.add(escape(field));
        }
        System.out.println(String.join("\t", parts));
        System.out.flush();
    }

    private static String escape(String field) {
        return field.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n");
    }
}
