"""Figures recorded before the shape issue, to print beside today's ("neither may grow").

From docs/performance.md as of commit 449e553 (one `make bench` run on 2026-12-01, 2 vCPU
x86_64, CPython 3.13.0): section 1 (cold start, 12 samples, medians) and section 5 (packages).
Then one webhook function per channel kind (functions.webhooks_orders, .webhooks_payments),
each package carrying every runtime dependency (httpx and its dependencies too) and all of
`shared`: 18.3 MB unzipped, 6.7 MB zipped, the same for every function.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "docs/performance.md at commit 449e553"
PACKAGE_ZIPPED_MB = 6.7  # every function (MB = 1024 * 1024, as section 5 counts)
PACKAGE_UNZIPPED_MB = 18.3


@dataclass(frozen=True)
class ColdStart:
    handler: str  # the function that served this provider then
    import_ms: float
    total_cpu_ms: float  # import + first request, CPU
    ratio_cpu: float  # / the floor of the same run
    ratio_wall: float
    ratio_range: tuple[float, float]  # what three runs that day measured (the page says so)


# Keyed by the PROVIDER the webhook function serves today.
WEBHOOK_COLD_START = {
    "shopify": ColdStart("functions.webhooks_orders.handler", 157, 354, 1.23, 1.23, (1.23, 1.37)),
    "stripe": ColdStart("functions.webhooks_payments.handler", 170, 374, 1.30, 1.29, (1.30, 1.36)),
}
# Import only, per handler module (section 1).
IMPORT_MS = {
    "functions.api.handler": 234,
    "functions.stream_router.handler": 211,
    "functions.fulfilment.handler": 200,  # today functions.workflow.fulfilment
    "functions.pollers.reconcile": 181,
}
FLOOR_CPU_MS = 288
