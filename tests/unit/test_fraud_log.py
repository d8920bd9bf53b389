import pytest

from cocreate.fraud.log import canonical_mailbox, mailbox_pattern


@pytest.mark.parametrize(
    ("email", "mailbox"),
    [
        ("Jane.Doe+crisps@Gmail.com", "janedoe@gmail.com"),
        ("j.a.n.e.doe@googlemail.com", "janedoe@gmail.com"),
        ("jane.doe+1@example.org", "jane.doe@example.org"),  # dots matter outside Gmail
        ("  jane@example.org ", "jane@example.org"),
        ("not-an-email", "not-an-email"),
    ],
)
def test_canonical_mailbox_folds_the_spellings_of_one_mailbox(email: str, mailbox: str) -> None:
    assert canonical_mailbox(email) == mailbox


@pytest.mark.parametrize(
    ("email", "pattern"),
    [
        ("Jane.Doe@example.org", "janedoe@example.org"),
        ("jane.doe1@example.org", "janedoe@example.org"),
        ("janedoe_02@example.org", "janedoe@example.org"),
        ("jane.doe+7@example.org", "janedoe@example.org"),
        ("j.a.n.e.d.o.e.42@gmail.com", "janedoe@gmail.com"),
        ("jane.doe1@example.com", "janedoe@example.com"),  # the domain stays
        ("not-an-email", ""),
    ],
)
def test_mailbox_pattern_blurs_the_numbers_of_a_series(email: str, pattern: str) -> None:
    assert mailbox_pattern(email) == pattern
