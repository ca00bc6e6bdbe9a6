from __future__ import annotations

from shared.config import Settings
from shared.store.table import Table


class ApiSettings(Settings):
    table_name: str


def table() -> Table:
    return Table(ApiSettings.load().table_name)
