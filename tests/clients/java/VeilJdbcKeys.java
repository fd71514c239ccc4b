import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;

/**
 * Prints what pgJDBC's DatabaseMetaData reports about the keys of tables in one schema.
 *
 * <p>Usage: {@code java -cp postgresql.jar:. VeilJdbcKeys JDBC_URL USER PASSWORD SCHEMA TABLE...}.
 * One tab-separated line per row: the call, then every column as {@code name=value}. Run against
 * Veil and against PostgreSQL, the outputs are compared by the Python test.
 */
public final class VeilJdbcKeys {
    private VeilJdbcKeys() {}

    public static void main(String[] args) throws SQLException {
        try (Connection connection = DriverManager.getConnection(args[0], args[1], args[2])) {
            DatabaseMetaData meta = connection.getMetaData();
            String schema = args[3];
            for (int i = 4; i < args.length; i++) {
                String table = args[i];
                print("primary_keys " + table, meta.getPrimaryKeys(null, schema, table));
                print("imported_keys " + table, meta.getImportedKeys(null, schema, table));
                print("exported_keys " + table, meta.getExportedKeys(null, schema, table));
                print("index_info " + table, meta.getIndexInfo(null, schema, table, false, false));
            }
        }
    }

    private static void print(String call, ResultSet rows) throws SQLException {
        try (rows) {
            ResultSetMetaData columns = rows.getMetaData();
            while (rows.next()) {
                StringBuilder line = new StringBuilder(call);
                for (int c = 1; c <= columns.getColumnCount(); c++) {
                    line.append('\t').append(columns.getColumnLabel(c)).append('=').append(rows.getString(c));
                }
                System.out.println(line);
            }
        }
    }
}
