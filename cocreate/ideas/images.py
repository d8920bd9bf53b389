"""Moved to `cocreate.images` (campaign covers use it too, and campaigns may not import ideas).

Kept only for `cocreate/app.py`, which another part of issue 18 owns; delete this module once
app.py imports `cocreate.images`.
"""

from cocreate.images import DecodeGate, UploadPolicy

__all__ = ["DecodeGate", "UploadPolicy"]
