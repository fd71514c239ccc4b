"""The ``veil`` command line."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import cast

import click
from rich.console import Console
from rich.table import Table as RichTable

from veil.catalog.sources.plugins import check_connections
from veil.config import VeilConfig, load_config
from veil.config.references import ConfigProblem, principal_problems
from veil.config.watch import file_signature, watch_config
from veil.errors import ConfigError, VeilError

console = Console(stderr=True)


def _load(path: str) -> VeilConfig:
    try:
        return check_connections(load_config(path))
    except ConfigError as exc:
        console.print(f"[red]Invalid configuration[/red] {path}:", soft_wrap=True)
        for where, message in exc.problems:
            console.print(f"  {where}: {message}", markup=False, soft_wrap=True)
        raise SystemExit(2) from None


def _run_server(
    config: VeilConfig,
    host: str | None,
    port: int | None,
    banner: str | None = None,
    config_path: Path | None = None,
    seen: tuple[int, int] | None = None,
) -> None:
    from veil.admin.redact import SecretsLogFilter
    from veil.catalog.schedule import sync_on_interval
    from veil.engine.engine import QueryEngine
    from veil.proxy.server import VeilServer

    os.umask(0o077)  # whatever the server writes (audit, stores, spilled rows) is Veil's alone

    server_config = config.server.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    config = config.model_copy(update={"server": server_config})
    engine = QueryEngine(config)
    secrets_filter = SecretsLogFilter(lambda: engine.config.secrets.values())
    for handler in logging.getLogger().handlers:
        handler.addFilter(secrets_filter)
    _report_catalog(engine.catalog)

    def apply(new_config: VeilConfig) -> None:
        # Host and port are bound once; everything else takes effect on reload.
        check_connections(new_config)
        engine.reload(new_config.model_copy(update={"server": new_config.server.model_copy(update={"host": server_config.host, "port": server_config.port})}))

    async def main() -> None:
        server = VeilServer(lambda: engine.config, engine)
        try:
            await server.start()
        except VeilError:
            engine.close()
            raise
        watcher = (
            asyncio.create_task(watch_config(config_path, apply, current=lambda: engine.config, seen=seen))
            if config_path
            else None
        )
        syncer = asyncio.create_task(sync_on_interval(engine))
        console.print(
            f"Veil listening on {server_config.host}:{server.bound_port} "
            f"({len(engine.catalog.snapshot)} tables from {len(engine.catalog.sources)} connections)"
        )
        if banner:
            console.print(banner.format(port=server.bound_port))
        try:
            await server.serve_forever()
        finally:
            if watcher is not None:
                watcher.cancel()
            syncer.cancel()
            await server.close()
            engine.close()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


class _Commands(click.Group):
    """Every command: an error Veil raised (a state store it cannot use, a source it cannot
    reach at startup...) is printed with its hint, not as a traceback, and exits 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except VeilError as exc:
            console.print(f"[red]Error:[/red] {exc.message}" + (f"\n  {exc.hint}" if exc.hint else ""), soft_wrap=True)
            raise SystemExit(1) from None


@click.group(cls=_Commands)
@click.option("-v", "--verbose", is_flag=True, help="Log debug information.")
def main(verbose: bool) -> None:
    """Veil: a PostgreSQL-speaking SQL proxy that enforces data policies."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@main.command()
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--host", default=None, help="Address to listen on (default from config: 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to listen on (default from config: 6432).")
def serve(config_path: str, host: str | None, port: int | None) -> None:
    """Run the proxy."""
    seen = file_signature(Path(config_path))  # before reading: a later change is reloaded
    _run_server(_load(config_path), host, port, config_path=Path(config_path), seen=seen)


@main.command()
@click.option("--dir", "directory", default="veil-demo", type=click.Path(file_okay=False), show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=6432, type=int, show_default=True)
@click.option("--transactions", default=1_000_000, type=int, show_default=True)
def demo(directory: str, host: str, port: int, transactions: int) -> None:
    """Create a demo DuckDB warehouse and config, then serve it."""
    from veil.demo import DEMO_USERS, write_demo

    with console.status("Generating demo data (customers, transactions)..."):
        files = write_demo(Path(directory), host=host, port=port, transactions=transactions)
    console.print(f"Wrote {files.database} and {files.config}")
    _discover_demo(_load(str(files.config)))
    users = ", ".join(f"{name} (password {name})" for name in DEMO_USERS)
    banner = (
        f"Demo users: {users}\n"
        f'Connect with:  psql "postgresql://alice:alice@{host}:{{port}}/veil"'
    )
    _run_server(_load(str(files.config)), host, port, banner, config_path=files.config)


def _discover_demo(config: VeilConfig) -> None:
    """Tag the demo's untagged sensitive columns before serving, as an admin would."""
    from veil.discovery.console import run_discover
    from veil.discovery.run import DiscoverySettings

    catalog = _catalog(config)
    try:
        settings = DiscoverySettings.from_config(config, threshold=None, sample_rows=None, only_new=False)
        run_discover(config, catalog, (), settings, False, _report_console(), console)
    finally:
        for source in catalog.sources.values():
            source.close()


@main.command()
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False))
def check(config_path: str) -> None:
    """Validate the config, test every connection and resolve every reference (users, groups,
    tables, columns); exits 1 on any problem, naming its YAML path and the closest name."""
    from veil.catalog.registry import open_source

    config = _load(config_path)
    logging.getLogger("veil.catalog.sync").setLevel(logging.WARNING)  # check reports problems, not changes
    table = RichTable("connection", "type", "status")
    failed = False
    for name, connection in config.connections.items():
        try:
            source = open_source(name, connection)
            source.check()
            count = len(source.list_tables())
            source.close()
            table.add_row(name, connection.type, f"[green]ok[/green] ({count} tables)")
        except VeilError as exc:
            failed = True
            hint = f"\nhint: {exc.hint}" if exc.hint else ""
            table.add_row(name, connection.type, f"[red]{exc.message}[/red]{hint}")
    Console().print(table)
    problems = _reference_problems(config, connections_ok=not failed)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if failed or problems:
        raise SystemExit(1)
    if config.secrets.hash_key_previous:
        console.print(
            "[yellow]warning: secrets.hash_key_previous is set: key rotation is in progress. Remove it once "
            "consumers of hashed values have moved to the new key (see README, Security model).[/yellow]"
        )
    console.print(f"[green]{config_path} is valid[/green]")


def _reference_problems(config: VeilConfig, connections_ok: bool) -> list[ConfigProblem]:
    """Unresolved references: user and group names always; table keys, columns and table
    patterns against a fresh sync of every connection, when all could be reached."""
    from veil.catalog.references import catalog_problems
    from veil.catalog.registry import build_catalog
    problems = principal_problems(config)
    if connections_ok and config.connections:
        catalog = build_catalog(config, trigger="check")
        try:
            tables = [e.table for e in catalog.entries] or list(catalog.snapshot)
            problems += catalog_problems(config, tables, set(catalog.errors))
        finally:
            for source in catalog.sources.values():
                source.close()
    return problems


@main.command()
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--user", "-u", required=True, help="Explain as this user (their policies apply).")
@click.argument("sql")
def explain(config_path: str, user: str, sql: str) -> None:
    """Show the SQL sent to each source and the policies applied for a user."""
    from veil.api import SessionInfo
    from veil.engine.engine import QueryEngine
    from veil.engine.session import Plan

    config = _load(config_path)
    if user not in config.users:
        console.print(f"[red]unknown user {user}[/red]")
        raise SystemExit(1)
    engine = QueryEngine(config)

    async def run() -> list[str]:
        session = engine.open_session(SessionInfo(user=user, database=config.server.database))
        prepared = await session.prepare(sql, [])
        return session.explain(cast(Plan, prepared.plan))  # the engine-private plan of a Session

    try:
        lines = asyncio.run(run())
    except VeilError as exc:
        console.print(f"[red]ERROR {exc.sqlstate}:[/red] {exc.message}")
        raise SystemExit(1) from None
    finally:
        engine.close()
    click.echo("\n".join(lines))


def _report_console() -> Console:
    """Standard output for tables: the terminal's width, or wide enough not to fold when piped."""
    return Console() if sys.stdout.isatty() else Console(width=200)


def _catalog(config: VeilConfig):
    from veil.catalog.registry import build_catalog

    catalog = build_catalog(config, sync=())  # connections never synced are synced first
    _report_catalog(catalog)
    return catalog


def _report_catalog(catalog) -> None:
    """Connections that could not be synced and names skipped for a collision, on stderr."""
    for name, error in catalog.errors.items():
        console.print(f"[yellow]connection {name} unavailable:[/yellow] {error.message}")
    for collision in catalog.collisions:
        console.print(
            f"[yellow]name collision on {collision.name}:[/yellow] served from {collision.kept}, "
            f"{collision.skipped} skipped"
        )


@main.command()
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Share of sampled values that must be hits (default: discovery.threshold, 0.9).")
@click.option("--sample-rows", type=click.IntRange(10, 1_000_000), default=None,
              help="Rows sampled per table (default: discovery.sample_rows, 10000).")
@click.option("--new-only", is_flag=True, help="Only columns no earlier run has scanned.")
@click.option("--dry-run", is_flag=True, help="Classify and print, but store nothing.")
@click.argument("tables", nargs=-1)
def discover(
    config_path: str, threshold: float | None, sample_rows: int | None, new_only: bool, dry_run: bool,
    tables: tuple[str, ...],
) -> None:
    """Find sensitive columns by sampling each table at its source, and tag them.

    TABLES are schema.table or connection.schema.table names (globs allowed); default: all."""
    from veil.discovery.console import run_discover
    from veil.discovery.run import DiscoverySettings

    config = _load(config_path)
    catalog = _catalog(config)
    settings = DiscoverySettings.from_config(
        config, threshold=threshold, sample_rows=sample_rows, only_new=new_only
    )
    try:
        status = run_discover(config, catalog, tables, settings, dry_run, _report_console(), console)
    finally:
        for source in catalog.sources.values():
            source.close()
    raise SystemExit(status)


@main.group()
def tags() -> None:
    """List column tags (config and discovered) and reject discovered ones."""


def _tags_action(action, config_path: str, target: str, tag: str) -> None:
    config = _load(config_path)
    catalog = _catalog(config)
    try:
        status = action(config, catalog.snapshot, target, tag, console)
    except VeilError as exc:
        console.print(f"[red]{exc.message}[/red]")
        status = 1
    raise SystemExit(status)


@tags.command("list")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.argument("tables", nargs=-1)
def tags_list(config_path: str, tables: tuple[str, ...]) -> None:
    """Show every column tag with its origin (config, discovery, rejected)."""
    from veil.discovery.console import tags_table
    from veil.state.tagstore import TagStore

    config = _load(config_path)
    catalog = _catalog(config)
    with TagStore.open(config.state_dir) as store:
        _report_console().print(tags_table(config, store, catalog.snapshot, tables))


@tags.command("reject")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.argument("column")
@click.argument("tag")
def tags_reject(config_path: str, column: str, tag: str) -> None:
    """Reject a discovered TAG on COLUMN (schema.table.column); later runs never add it back."""
    from veil.discovery.console import reject_tag

    _tags_action(reject_tag, config_path, column, tag)


@tags.command("unreject")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.argument("column")
@click.argument("tag")
def tags_unreject(config_path: str, column: str, tag: str) -> None:
    """Withdraw a rejection: the next discovery run may tag COLUMN with TAG again."""
    from veil.discovery.console import unreject_tag

    _tags_action(unreject_tag, config_path, column, tag)


@main.command("sync")
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.argument("connections", nargs=-1)
def sync_command(config_path: str, connections: tuple[str, ...]) -> None:
    """Object sync now: crawl CONNECTIONS (default: all) and print what changed.

    A running `veil serve` on the same state_dir applies the changes within seconds. Exits 1 if
    a connection could not be crawled."""
    from veil.catalog.console import changes_table, run_sync
    from veil.catalog.registry import open_source

    config = _load(config_path)
    logging.getLogger("veil.catalog.sync").setLevel(logging.WARNING)  # the table below lists the changes
    unknown = [c for c in connections if c not in config.connections]
    if unknown:
        console.print(f"[red]unknown connection {', '.join(unknown)}[/red] (configured: {', '.join(config.connections)})")
        raise SystemExit(2)
    sources = {}
    for name in connections or config.connections:
        try:
            sources[name] = open_source(name, config.connections[name])
        except VeilError as exc:
            console.print(f"[red]connection {name}: {exc.message}[/red]")
    try:
        results = run_sync(config, sources, list(connections), console)
    finally:
        for source in sources.values():
            source.close()
    _report_console().print(changes_table(results))
    _discover_synced(config, results)
    raise SystemExit(0 if all(r.ok for r in results) else 1)


def _discover_synced(config: VeilConfig, results) -> None:
    """Sensitive data discovery of the tables and columns the sync found (``discovery.on_sync``)."""
    from veil.catalog.registry import build_catalog
    from veil.discovery.console import summary_table
    from veil.discovery.run import discover_synced

    if not config.discovery.on_sync or not any(r.changes for r in results):
        return
    catalog = build_catalog(config, sync=())  # what the sync just stored; no second crawl
    try:
        found = discover_synced(catalog, config, results)
    finally:
        for source in catalog.sources.values():
            source.close()
    if any(r.columns for r in found):
        _report_console().print(summary_table(found))


@main.command()
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.argument("targets", nargs=-1, required=True)
def approve(config_path: str, targets: tuple[str, ...]) -> None:
    """Clear the New tag of TABLE[.COLUMN] after review (TABLE: schema.table or
    connection.schema.table): the column's values are served again."""
    from veil.catalog.console import approve as approve_targets

    raise SystemExit(approve_targets(_load(config_path), targets, _report_console(), console))


@main.command()
@click.option("-c", "--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.argument("target", required=False)
@click.argument("status", required=False, type=click.Choice(["active", "inactive", "inherit"]))
def status(config_path: str, target: str | None, status: str | None) -> None:
    """Show every table's status, or set one: TARGET is connection, connection.schema or
    connection.schema.table (source names); STATUS active, inactive or inherit."""
    from veil.catalog.console import set_status, status_table

    config = _load(config_path)
    if target is None:
        _report_console().print(status_table(config))
        return
    if status is None:
        console.print("[red]give a status: active, inactive or inherit[/red]")
        raise SystemExit(2)
    try:
        raise SystemExit(set_status(config, target, status, _report_console()))
    except VeilError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise SystemExit(2) from None


@main.command()
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def passwd(password_stdin: bool) -> None:
    """Print a SCRAM-SHA-256 verifier to paste into the config."""
    from veil.proxy.auth import make_scram_verifier

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            console.print("[red]Passwords do not match[/red]")
            raise SystemExit(1)
    if not password:
        console.print("[red]Empty password[/red]")
        raise SystemExit(1)
    click.echo(make_scram_verifier(password))


if __name__ == "__main__":
    main()
