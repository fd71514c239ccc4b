#!/usr/bin/perl
# DBD::Pg against veil serve: its metadata methods (table_info, column_info, primary_key_info,
# statistics_info), placeholders, a streamed result and masked values. Prints the records
# tests/clients/conftest.py describes; "ok"/"fail" per section.
use strict;
use warnings;
use DBI;

my $dsn = "dbi:Pg:dbname=veil;host=$ENV{VEIL_HOST};port=$ENV{VEIL_PORT};sslmode=disable";
my $dbh = DBI->connect($dsn, $ENV{VEIL_USER}, $ENV{VEIL_PASSWORD},
                       {RaiseError => 1, PrintError => 0, AutoCommit => 1});
binmode STDOUT, ':utf8';

sub section {
    my ($name, $code) = @_;
    my $ok = eval { $code->(); 1 };
    if ($ok) { print "ok\t$name\n"; }
    else {
        my $state = $dbh->state // '';
        (my $message = $@) =~ s/[\t\n]/ /g;
        print "fail\t$name\t$state\t$message\n";
    }
}

section('version', sub {
    my ($version) = $dbh->selectrow_array('SHOW server_version');
    print "version\t$version\n";
});
section('table_info', sub {
    my $sth = $dbh->table_info(undef, 'sales', '%', 'TABLE');
    my @names = sort map { $_->{TABLE_NAME} } @{ $sth->fetchall_arrayref({}) };
    print "tables\t", join(',', @names), "\n";
});
section('column_info', sub {
    my $sth = $dbh->column_info(undef, 'sales', 'orders', '%');
    my @cols = map { "$_->{COLUMN_NAME}:$_->{pg_type}" }
               sort { $a->{ORDINAL_POSITION} <=> $b->{ORDINAL_POSITION} } @{ $sth->fetchall_arrayref({}) };
    print "columns\t", join(',', @cols), "\n";
});
section('primary_key_info', sub {
    my @keys = $dbh->primary_key('', 'sales', 'orders');
    print "primary_key\t", scalar(@keys), "\n";
});
section('statistics_info', sub {
    my $sth = $dbh->statistics_info(undef, 'sales', 'orders', 0, 0);
    my $rows = $sth ? $sth->fetchall_arrayref({}) : [];
    print "statistics\t", join(',', map { $_->{TYPE} } @$rows), "\n";
});
section('placeholders', sub {
    my $sth = $dbh->prepare(
        'SELECT id, name FROM sales.customers WHERE id IN (?, ?, ?) AND country <> ? ORDER BY id');
    $sth->bind_param(1, 2, DBI::SQL_INTEGER);
    $sth->bind_param(2, 3, DBI::SQL_INTEGER);
    $sth->bind_param(3, 5, DBI::SQL_INTEGER);
    $sth->bind_param(4, 'XX');
    $sth->execute;
    print "in\t", join(',', map { "$_->[0]:$_->[1]" } @{ $sth->fetchall_arrayref }), "\n";
});
section('stream', sub {
    my $sth = $dbh->prepare('SELECT id, doubled, label FROM sales.big');
    $sth->execute;
    my ($count, $sum) = (0, 0);
    while (my $row = $sth->fetchrow_arrayref) { $count++; $sum += $row->[1]; }
    print "stream\t$count\t$sum\n";
});
section('masked', sub {
    my ($name) = $dbh->selectrow_array('SELECT name FROM sales.customers WHERE id = ?', undef, 1);
    print "masked\t$name\n";
});
$dbh->disconnect;
