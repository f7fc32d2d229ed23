"""What an update changed, element by element at the top level of the resource.

Most writes in a CRM are small updates: a timer completed, a Task claimed, an Appointment confirmed. Knowing
which top-level elements changed lets validation check only those (the rest passed when it was stored) and lets
indexing rewrite only the search parameters that read them, instead of redoing the whole resource each time.
"""

from __future__ import annotations

#: Elements of ``meta`` the server stamps on every write: a change there is not a change of the resource.
_STAMPED_META = ("versionId", "lastUpdated")


def changed_elements(previous: dict | None, content: dict) -> frozenset[str] | None:
    """Top-level JSON keys whose values differ (added, removed or changed); None when there is no previous
    version to compare with, meaning "everything"."""
    if previous is None:
        return None
    changed = {key for key in previous.keys() | content.keys() if previous.get(key) != content.get(key)}
    if "meta" in changed and _unstamped(previous.get("meta")) == _unstamped(content.get("meta")):
        changed.discard("meta")
    return frozenset(changed)


def _unstamped(meta: object) -> object:
    if not isinstance(meta, dict):
        return meta
    return {k: v for k, v in meta.items() if k not in _STAMPED_META}
