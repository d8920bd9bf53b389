"""The ideas feature's hooks: moderation registers in them (ideas never imports moderation),
and a submission with no screening registered is an error, never a skipped moderation."""

from __future__ import annotations

import pytest

import cocreate.moderation  # noqa: F401  (registers moderation's part, as the app does)
from cocreate.ideas import hooks
from cocreate.moderation import idea_hooks


def test_moderation_registers_its_screening_and_its_part_of_the_idea_page() -> None:
    assert isinstance(hooks.screening(), idea_hooks.ModerationScreening)
    assert hooks.page_parts().count(idea_hooks.idea_page) == 1
    idea_hooks.register()  # registering again changes nothing
    assert hooks.page_parts().count(idea_hooks.idea_page) == 1


def test_without_a_screening_submitting_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "_screening", [])
    with pytest.raises(RuntimeError, match="import cocreate.moderation"):
        hooks.screening()
