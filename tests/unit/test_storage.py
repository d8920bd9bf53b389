from __future__ import annotations

from pathlib import Path

import pytest

from cocreate.storage import InvalidKey, LocalStorage


def test_save_open_url_delete(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    storage.save("ideas/abc123/large.jpg", b"jpeg bytes", "image/jpeg")
    assert storage.open("ideas/abc123/large.jpg") == b"jpeg bytes"
    assert storage.url("ideas/abc123/large.jpg") == "/media/ideas/abc123/large.jpg"
    assert [p.name for p in (tmp_path / "media" / "ideas" / "abc123").iterdir()] == ["large.jpg"]
    storage.delete("ideas/abc123/large.jpg")
    storage.delete("ideas/abc123/large.jpg")  # deleting twice is fine
    assert not (tmp_path / "media" / "ideas" / "abc123" / "large.jpg").exists()


@pytest.mark.parametrize(
    "key",
    [
        "../secret_key",
        "ideas/../../secret_key",
        "/etc/passwd",
        "ideas/./x.jpg",
        "ideas//x.jpg",
        "..",
        ".hidden",
        "ideas/x.jpg\0.png",
        "ideas\\..\\x",
        "Ideas/X.JPG",
        "",
        "a/" * 10 + "x",
    ],
)
def test_keys_that_could_leave_the_folder_are_refused(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "media")
    with pytest.raises(InvalidKey):
        storage.save(key, b"x", "image/jpeg")
    with pytest.raises(InvalidKey):
        storage.url(key)
    assert not any((tmp_path).rglob("x*"))
