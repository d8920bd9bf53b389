import pytest

from cocreate.fraud.log import canonical_mailbox


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
