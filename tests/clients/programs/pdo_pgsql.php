<?php
// PHP PDO pgsql (Debian php-pgsql) against veil serve: the information_schema listing Laravel and
// Doctrine run, prepared statements with typed bindings (native prepares), an unbuffered stream,
// getColumnMeta (table name and native type come from RowDescription's table OID) and masked
// values. Prints the records tests/clients/conftest.py describes; "ok"/"fail" per section.
$dsn = sprintf('pgsql:host=%s;port=%s;dbname=veil;sslmode=disable', getenv('VEIL_HOST'), getenv('VEIL_PORT'));
$pdo = new PDO($dsn, getenv('VEIL_USER'), getenv('VEIL_PASSWORD'), [
    PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
    PDO::ATTR_EMULATE_PREPARES => false,
]);

function section(string $name, callable $body): void {
    try {
        $body();
        echo "ok\t$name\n";
    } catch (PDOException $e) {
        $message = str_replace(["\t", "\n"], ' ', $e->getMessage());
        echo "fail\t$name\t{$e->getCode()}\t$message\n";
    }
}

section('version', function () use ($pdo) {
    echo "version\t", $pdo->getAttribute(PDO::ATTR_SERVER_VERSION), "\n";
});
section('tables', function () use ($pdo) {
    $rows = $pdo->query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'sales' "
        . "AND table_type = 'BASE TABLE' ORDER BY table_name")->fetchAll(PDO::FETCH_COLUMN);
    echo "tables\t", implode(',', $rows), "\n";
});
section('columns', function () use ($pdo) {
    $stmt = $pdo->prepare('SELECT column_name, data_type FROM information_schema.columns '
        . 'WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position');
    $stmt->execute(['sales', 'orders']);
    $cols = array_map(fn($r) => "$r[0]:$r[1]", $stmt->fetchAll(PDO::FETCH_NUM));
    echo "columns\t", implode(',', $cols), "\n";
});
section('prepared', function () use ($pdo) {
    $stmt = $pdo->prepare('SELECT id, name FROM sales.customers WHERE id IN (?, ?, ?) AND country <> ? ORDER BY id');
    foreach ([2, 3, 5] as $i => $id) {
        $stmt->bindValue($i + 1, $id, PDO::PARAM_INT);
    }
    $stmt->bindValue(4, 'XX', PDO::PARAM_STR);
    $stmt->execute();
    $rows = array_map(fn($r) => "$r[0]:$r[1]", $stmt->fetchAll(PDO::FETCH_NUM));
    echo "in\t", implode(',', $rows), "\n";
});
section('stream', function () use ($pdo) {
    $stmt = $pdo->query('SELECT id, doubled, label FROM sales.big');
    $count = 0;
    $sum = 0;
    while ($row = $stmt->fetch(PDO::FETCH_NUM)) {
        $count++;
        $sum += (int) $row[1];
    }
    echo "stream\t$count\t$sum\n";
});
section('column_meta', function () use ($pdo) {
    $stmt = $pdo->query('SELECT id, customer, amount FROM sales.orders LIMIT 1');
    $meta = [];
    for ($i = 0; $i < $stmt->columnCount(); $i++) {
        $m = $stmt->getColumnMeta($i);
        $meta[] = sprintf('%s:%s:%s', $m['name'], $m['native_type'], $m['table'] ?? '');
    }
    echo "meta\t", implode(',', $meta), "\n";
});
section('masked', function () use ($pdo) {
    $stmt = $pdo->prepare('SELECT name FROM sales.customers WHERE id = ?');
    $stmt->execute([1]);
    echo "masked\t", $stmt->fetchColumn(), "\n";
});
