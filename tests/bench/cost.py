"""4. Cost per 1,000 orders from the counts section 3 measured and AWS list prices.

Prices: /work/shared/notes/performance.md ("Prices (us-east-1, list)"); EventBridge custom
events at $1.00 per million as the bench brief gives. These are inputs, not results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tests.bench.report import how, note, table

LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND_ARM64 = 0.0000133334
HTTP_API_PER_REQUEST = 1.00 / 1_000_000
DYNAMODB_PER_WRU = 0.625 / 1_000_000
DYNAMODB_PER_RRU = 0.125 / 1_000_000
STEP_FUNCTIONS_PER_TRANSITION = 0.025 / 1_000
EVENTBRIDGE_PER_EVENT = 1.00 / 1_000_000
ORDERS = 1_000


@dataclass(frozen=True)
class FunctionUsage:
    name: str
    memory_mb: int
    durations_ms: tuple[float, ...]

    @property
    def billed_gb_seconds(self) -> float:
        """Lambda bills each invocation's duration rounded up to the millisecond."""
        return sum(math.ceil(d) for d in self.durations_ms) / 1000 * self.memory_mb / 1024


@dataclass(frozen=True)
class OrderUsage:
    """What one order used (counted by section 3)."""

    functions: tuple[FunctionUsage, ...]
    http_requests: int
    write_units: float
    read_units: float
    transitions: int
    events_published: int


def _price_text(price: float, per: int, unit: str) -> str:
    quoted = f"{price * per:.10f}".rstrip("0")
    whole, _, decimals = quoted.partition(".")
    amount = f"{whole}.{decimals.ljust(2, '0')}"
    scale = {1: "", 1_000: "1K ", 1_000_000: "1M "}.get(per, f"{per:,} ")
    return f"${amount} / {scale}{unit}"


Line = tuple[str, float, float, int, str]  # (item, amount per order, price, quoted per, unit)


def _lines(usage: OrderUsage) -> list[Line]:
    invocations = sum(len(f.durations_ms) for f in usage.functions)
    gb_seconds = sum(f.billed_gb_seconds for f in usage.functions)
    return [
        ("Lambda requests", invocations, LAMBDA_PER_REQUEST, 1_000_000, "requests"),
        ("Lambda duration, arm64", gb_seconds, LAMBDA_PER_GB_SECOND_ARM64, 1, "GB-s"),
        ("HTTP API requests", usage.http_requests, HTTP_API_PER_REQUEST, 1_000_000, "requests"),
        ("DynamoDB writes (table + GSI)", usage.write_units, DYNAMODB_PER_WRU, 1_000_000, "WRU"),
        ("DynamoDB reads", usage.read_units, DYNAMODB_PER_RRU, 1_000_000, "RRU"),
        (
            "Step Functions Standard",
            usage.transitions,
            STEP_FUNCTIONS_PER_TRANSITION,
            1_000,
            "transitions",
        ),
        (
            "EventBridge PutEvents",
            usage.events_published,
            EVENTBRIDGE_PER_EVENT,
            1_000_000,
            "events",
        ),
    ]


def order_cost(usage: OrderUsage) -> float:
    """What 1,000 such orders cost at the list prices (the total print_cost prints)."""
    return sum(amount * ORDERS * price for _, amount, price, _, _ in _lines(usage))


def print_cost(usage: OrderUsage) -> float:
    lines = _lines(usage)
    costs = [amount * ORDERS * price for _, amount, price, _, _ in lines]
    total = sum(costs)
    rows: list[list[object]] = [
        [
            label,
            amount,
            _price_text(price, per, unit),
            f"${cost:.5f}",
            f"{cost / total:.1%}" if total else "-",
        ]
        for (label, amount, price, per, unit), cost in zip(lines, costs, strict=True)
    ]
    rows.append(["total", "", "", f"${total:.5f}", "100%"])
    rows.append(["per order", "", "", f"${total / ORDERS:.8f}", ""])
    table(["item", "amount per order", "list price", "per 1,000 orders", "share"], rows)
    how(
        "per-order counts from section 3 (the warm order) x 1,000 x the list prices in "
        "/work/shared/notes/performance.md (us-east-1); Lambda GB-s = sum over invocations of "
        "the in-process handler wall time rounded up to 1 ms x the function's MemorySize from "
        "the template / 1024 - an approximation of billed duration: local CPU speed and moto's "
        "latency stand in for Lambda's, and init (cold start) time is not included."
    )
    breakdown = ", ".join(
        f"{f.name} {len(f.durations_ms)}x{f.memory_mb} MB {sum(f.durations_ms):.0f} ms"
        for f in usage.functions
    )
    note(f"Lambda usage behind the GB-s: {breakdown}.")
    note(
        "not priced: Secrets Manager API calls (cached 5 min per container), S3, CloudWatch "
        "Logs ingestion and EMF metrics, X-Ray traces (if tracing is active), data transfer; "
        "DynamoDB Streams reads by Lambda are free."
    )
    return total
