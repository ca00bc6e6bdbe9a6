"""Stock in the single table.

SKU#<sku> / WH#<warehouse>   on_hand, reserved, available (= on_hand - reserved, kept
                             explicitly because DynamoDB conditions cannot do arithmetic)
SKU#<sku> / RES#<order id>   one order's reservation of that SKU; written in the same
                             transaction as the stock update, so the two never disagree
"""

from __future__ import annotations

from datetime import datetime

from shared.kernel.errors import InvalidStockLevel
from shared.kernel.time import utc_iso
from shared.platform.table import ConditionFailed, Item, Table, Transaction
from shared.stock.domain import Allocation, StockLevel

MAX_SET_ATTEMPTS = 5


def sku_pk(sku: str) -> str:
    return f"SKU#{sku}"


def warehouse_sk(warehouse: str) -> str:
    return f"WH#{warehouse}"


def reservation_sk(order_id: str) -> str:
    return f"RES#{order_id}"


def _level(item: Item) -> StockLevel:
    return StockLevel(
        sku=item["sku"],
        warehouse=item["warehouse"],
        on_hand=item["on_hand"],
        reserved=item["reserved"],
    )


class StockRepository:
    def __init__(self, table: Table) -> None:
        self._table = table

    def levels(self, sku: str) -> list[StockLevel]:
        items = self._table.query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :wh)",
            ExpressionAttributeValues={":pk": {"S": sku_pk(sku)}, ":wh": {"S": "WH#"}},
            ConsistentRead=True,
        )
        return [_level(item) for item in items]

    def set_on_hand(self, sku: str, warehouse: str, on_hand: int, *, at: datetime) -> StockLevel:
        """Set the counted quantity; reservations stay, so available = on_hand - reserved.

        Optimistic: the write is conditioned on the reserved count we read, so a reservation
        landing in between makes us re-read instead of computing `available` from stale data.
        """
        if on_hand < 0:
            raise InvalidStockLevel("on_hand cannot be negative")
        for _ in range(MAX_SET_ATTEMPTS):
            current = self._table.get(sku_pk(sku), warehouse_sk(warehouse), consistent=True)
            try:
                if current is None:
                    self._table.put(
                        {
                            "PK": sku_pk(sku),
                            "SK": warehouse_sk(warehouse),
                            "type": "stock",
                            "sku": sku,
                            "warehouse": warehouse,
                            "on_hand": on_hand,
                            "reserved": 0,
                            "available": on_hand,
                            "updated_at": utc_iso(at),
                        },
                        condition="attribute_not_exists(PK)",
                    )
                    return StockLevel(sku=sku, warehouse=warehouse, on_hand=on_hand, reserved=0)
                reserved = current["reserved"]
                item = self._table.update(
                    sku_pk(sku),
                    warehouse_sk(warehouse),
                    "SET on_hand = :on_hand, available = :available, updated_at = :at",
                    condition="reserved = :reserved",
                    values={
                        ":on_hand": on_hand,
                        ":available": on_hand - reserved,
                        ":reserved": reserved,
                        ":at": utc_iso(at),
                    },
                )
                return _level(item)
            except ConditionFailed:
                continue
        raise InvalidStockLevel(f"stock of {sku} in {warehouse} keeps changing; try again")

    @staticmethod
    def reserve(
        txn: Transaction, order_id: str, allocation: Allocation, *, at: datetime
    ) -> tuple[int, int]:
        """Add a reservation to a transaction; returns the indexes of its two actions."""
        stock = txn.update(
            sku_pk(allocation.sku),
            warehouse_sk(allocation.warehouse),
            "SET reserved = reserved + :qty, available = available - :qty, updated_at = :at",
            condition="available >= :qty",
            values={":qty": allocation.quantity, ":at": utc_iso(at)},
        )
        reservation = txn.put(
            {
                "PK": sku_pk(allocation.sku),
                "SK": reservation_sk(order_id),
                "type": "reservation",
                "order_id": order_id,
                "sku": allocation.sku,
                "warehouse": allocation.warehouse,
                "quantity": allocation.quantity,
                "created_at": utc_iso(at),
            },
            condition="attribute_not_exists(PK)",
        )
        return stock, reservation

    @staticmethod
    def release(txn: Transaction, order_id: str, allocation: Allocation, *, at: datetime) -> None:
        txn.delete(
            sku_pk(allocation.sku), reservation_sk(order_id), condition="attribute_exists(PK)"
        )
        txn.update(
            sku_pk(allocation.sku),
            warehouse_sk(allocation.warehouse),
            "SET reserved = reserved - :qty, available = available + :qty, updated_at = :at",
            values={":qty": allocation.quantity, ":at": utc_iso(at)},
        )

    @staticmethod
    def adjust(
        txn: Transaction, order_id: str, held: Allocation, quantity: int, *, at: datetime
    ) -> None:
        """Change a reservation's quantity in place (the channel changed the line): one update
        of the stock item by the difference (`available >= more` when it grows) and the
        reservation item rewritten; a transaction may touch each item once only, so a release
        and a new reservation of the same SKU would not do."""
        more = quantity - held.quantity
        txn.update(
            sku_pk(held.sku),
            warehouse_sk(held.warehouse),
            "SET reserved = reserved + :qty, available = available - :qty, updated_at = :at",
            condition="available >= :qty" if more > 0 else None,
            values={":qty": more, ":at": utc_iso(at)},
        )
        txn.put(
            {
                "PK": sku_pk(held.sku),
                "SK": reservation_sk(order_id),
                "type": "reservation",
                "order_id": order_id,
                "sku": held.sku,
                "warehouse": held.warehouse,
                "quantity": quantity,
                "created_at": utc_iso(at),
            },
            condition="attribute_exists(PK)",
        )

    @staticmethod
    def ship(
        txn: Transaction, order_id: str, held: Allocation, quantity: int, *, at: datetime
    ) -> None:
        """Units of a reservation left the warehouse: they leave `on_hand` and `reserved`
        together (available is unchanged), and the reservation shrinks or goes."""
        txn.update(
            sku_pk(held.sku),
            warehouse_sk(held.warehouse),
            "SET on_hand = on_hand - :qty, reserved = reserved - :qty, updated_at = :at",
            values={":qty": quantity, ":at": utc_iso(at)},
        )
        if quantity >= held.quantity:
            txn.delete(sku_pk(held.sku), reservation_sk(order_id), condition="attribute_exists(PK)")
            return
        txn.put(
            {
                "PK": sku_pk(held.sku),
                "SK": reservation_sk(order_id),
                "type": "reservation",
                "order_id": order_id,
                "sku": held.sku,
                "warehouse": held.warehouse,
                "quantity": held.quantity - quantity,
                "created_at": utc_iso(at),
            },
            condition="attribute_exists(PK)",
        )
