"""The ASGI entry point for uvicorn workers: `uvicorn cocreate.asgi:app`."""

from cocreate.app import create_app
from cocreate.settings import Settings

app = create_app(Settings.from_env())
