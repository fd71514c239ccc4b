import pytest

from veil.errors import VeilError
from veil.sql.settings import Settings


def test_defaults_look_like_postgresql_15() -> None:
    settings = Settings.for_session("alice", {}, {})
    assert settings.get("server_version").startswith("15.")
    assert settings.get("DateStyle") == "ISO, MDY"
    assert settings.get("datestyle") == "ISO, MDY"
    assert settings.get("standard_conforming_strings") == "on"
    assert settings.get("session_authorization") == "alice"


def test_reported_changes_are_collected_once() -> None:
    settings = Settings.for_session("alice", {"application_name": "psql"}, {})
    assert settings.take_reported_changes() == {}
    settings.set("application_name", "pgjdbc")
    settings.set("extra_float_digits", "3")
    assert settings.take_reported_changes() == {"application_name": "pgjdbc"}
    assert settings.take_reported_changes() == {}


def test_reset_all_returns_to_session_defaults() -> None:
    settings = Settings.for_session("alice", {"TimeZone": "Europe/Paris"}, {"search_path": "sales"})
    settings.set("TimeZone", "UTC")
    settings.set("search_path", "public")
    settings.reset_all()
    assert settings.get("TimeZone") == "Europe/Paris"
    assert settings.search_path("alice") == ("sales",)


def test_set_local_is_undone_at_transaction_end() -> None:
    settings = Settings.for_session("alice", {}, {})
    settings.set("statement_timeout", "5s", local=True)
    assert settings.get("statement_timeout") == "5s"
    settings.end_transaction()
    assert settings.get("statement_timeout") == "0"


@pytest.mark.parametrize(
    ("name", "value", "sqlstate"),
    [
        ("client_encoding", "LATIN1", "22023"),
        ("TimeZone", "Mars/Olympus", "22023"),
        ("no_such_setting", "1", "42704"),
        ("server_version", "16", "55P02"),
    ],
)
def test_invalid_settings_are_refused(name: str, value: str, sqlstate: str) -> None:
    settings = Settings.for_session("alice", {}, {})
    with pytest.raises(VeilError) as info:
        settings.set(name, value)
    assert info.value.sqlstate == sqlstate


def test_custom_dotted_settings_are_allowed() -> None:
    settings = Settings.for_session("alice", {}, {})
    settings.set("myapp.tenant", "42")
    assert settings.get("myapp.tenant") == "42"


def test_search_path_expands_user() -> None:
    settings = Settings.for_session("alice", {}, {})
    assert settings.search_path("alice") == ("alice", "public")
