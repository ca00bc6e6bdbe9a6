"""One count as one CloudWatch Embedded Metric Format line: the webhooks' hot path.

Powertools' Metrics collects a metric set, validates it and serialises it through several layers
on every flush: about 30-40 us of a webhook whose whole budget over its floor is about 200 us
(docs/performance.md, section 2). A webhook records exactly one count per invocation, so its
line is formatted from a template instead. It is the line Powertools writes for the same metric
(the `orderhub` namespace, the `service` dimension from POWERTOOLS_SERVICE_NAME, extra
properties as top-level keys), so dashboards and alarms cannot tell the two apart, and it honours
the same switches (POWERTOOLS_METRICS_DISABLED, POWERTOOLS_DEV). Every other function keeps
Powertools' Metrics: they are not on a path a provider waits for.
"""

from __future__ import annotations

import json
import os
import sys
import time
from functools import lru_cache

NAMESPACE = "orderhub"  # every function's metrics (shared/platform/observability.py too)
_TRUE = frozenset({"1", "true", "on", "yes", "y", "t"})


def metrics_disabled() -> bool:
    """Powertools' rule (aws_lambda_powertools.metrics.functions.is_metrics_disabled)."""
    disabled = os.environ.get("POWERTOOLS_METRICS_DISABLED")
    if disabled is not None:
        return disabled.strip().lower() in _TRUE
    return os.environ.get("POWERTOOLS_DEV", "").strip().lower() in _TRUE


@lru_cache(maxsize=256)
def _template(name: str, service: str, properties: tuple[tuple[str, str], ...]) -> str:
    document = {
        "_aws": {
            "Timestamp": 0,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": name, "Unit": "Count"}],
                }
            ],
        },
        "service": service,
        name: [1.0],
        **dict(properties),
    }
    # The timestamp is the one field that changes between lines.
    text = json.dumps(document, separators=(",", ":")).replace("%", "%%")
    return text.replace('"Timestamp":0', '"Timestamp":%d', 1)


def emit_count(name: str, **properties: str) -> None:
    """Write `name` = 1 (Count) now, with `properties` as searchable top-level keys."""
    if metrics_disabled():
        return
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "service_undefined")
    line = _template(name, service, tuple(properties.items())) % (time.time_ns() // 1_000_000)
    sys.stdout.write(line + "\n")
