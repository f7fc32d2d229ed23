"""The inbox tests use the channel app (providers configured), its client and its live server."""

from tests.channels.conftest import META, SECRET, channel_app, channel_settings, live, web

__all__ = ["META", "SECRET", "channel_app", "channel_settings", "live", "web"]
