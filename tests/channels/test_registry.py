"""One registration path: built-ins are entry points like plugins, and clashing claims are errors naming both."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from reachsim.channels import registry


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch):
    registry._discovered.cache_clear()
    registry._invalidate()
    yield monkeypatch
    registry._discovered.cache_clear()
    registry._invalidate()


def _plugins(monkeypatch: pytest.MonkeyPatch, *eps: EntryPoint) -> None:
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep for ep in eps if ep.group == group])


def test_builtins_load_through_entry_points(fresh_registry):
    _plugins(fresh_registry)
    assert set(registry.BUILTIN) <= set(registry.available())


def test_a_plugin_claiming_a_builtin_name_is_an_error_naming_both(fresh_registry):
    impostor = EntryPoint("page", "docs_sms:SmsChannel", registry.ENTRY_POINT_GROUP)
    _plugins(fresh_registry, impostor)
    with pytest.raises(registry.RegistryError) as err:
        registry.available()
    message = str(err.value)
    assert "'page'" in message
    assert registry.BUILTIN["page"] in message and "docs_sms:SmsChannel" in message


def test_two_plugins_with_one_name_are_an_error_naming_both(fresh_registry):
    a = EntryPoint("sms", "one_pkg:Sms", registry.ENTRY_POINT_GROUP)
    b = EntryPoint("sms", "other_pkg:Sms", registry.ENTRY_POINT_GROUP)
    _plugins(fresh_registry, a, b)
    with pytest.raises(registry.RegistryError, match=r"one_pkg:Sms.*other_pkg:Sms"):
        registry.available()


def test_the_same_reference_twice_is_one_registration(fresh_registry):
    again = EntryPoint("page", registry.BUILTIN["page"], registry.ENTRY_POINT_GROUP)
    _plugins(fresh_registry, again)
    assert registry.get("page").type_name == "page"
