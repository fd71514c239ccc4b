import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Prints what pgJDBC reports about one table's columns and one query's result.
 *
 * <p>Usage: {@code java -cp postgresql.jar:. VeilJdbcTypes JDBC_URL USER PASSWORD SCHEMA TABLE QUERY}.
 * One tab-separated line per getColumns row (COLUMN_NAME, DATA_TYPE, TYPE_NAME), per result column
 * (getColumnTypeName, getColumnType) and per row (every getString), the query read once by a plain
 * statement and once by a server-prepared statement (binary transfer where pgJDBC uses it). Run
 * against Veil and against PostgreSQL, the outputs are compared by the Python test.
 */
public final class VeilJdbcTypes {
    private VeilJdbcTypes() {}

    public static void main(String[] args) throws SQLException {
        try (Connection connection = DriverManager.getConnection(args[0], args[1], args[2])) {
            DatabaseMetaData meta = connection.getMetaData();
            try (ResultSet columns = meta.getColumns(null, args[3], args[4], "%")) {
                while (columns.next()) {
                    System.out.println("column\t" + columns.getString("COLUMN_NAME") + "\t"
                            + columns.getInt("DATA_TYPE") + "\t" + columns.getString("TYPE_NAME"));
                }
            }
            try (Statement statement = connection.createStatement()) {
                print("text", statement.executeQuery(args[5]));
            }
            try (PreparedStatement prepared = connection.prepareStatement(args[5])) {
                prepared.unwrap(org.postgresql.PGStatement.class).setPrepareThreshold(-1);
                print("prepared", prepared.executeQuery());
            }
        }
    }

    private static void print(String mode, ResultSet rows) throws SQLException {
        try (rows) {
            ResultSetMetaData columns = rows.getMetaData();
            for (int c = 1; c <= columns.getColumnCount(); c++) {
                System.out.println(mode + " type\t" + columns.getColumnName(c) + "\t"
                        + columns.getColumnTypeName(c) + "\t" + columns.getColumnType(c));
            }
            while (rows.next()) {
                StringBuilder line = new StringBuilder(mode + " row");
                for (int c = 1; c <= columns.getColumnCount(); c++) {
                    line.append('\t').append(rows.getString(c));
                }
                System.out.println(line);
            }
        }
    }
}
