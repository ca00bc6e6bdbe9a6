"""python -m infra.local serve   the embedded stack until Ctrl-C / SIGTERM (make local)
python -m infra.local demo    the main job end to end, then a verdict (make demo)"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time

from infra.local.stack import EmbeddedStack
from infra.local.synth import synth_template
from shared import registry
from shared.registry import Poll, Provider, Queue


def print_stack_errors() -> logging.Handler:
    """The embedded stack's own errors (orderhub.local), printed as they happen."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("EMBEDDED STACK ERROR %(message)s"))
    handler.setLevel(logging.ERROR)
    errors = logging.getLogger("orderhub.local")
    errors.addHandler(handler)
    errors.propagate = False  # once, on stdout, not again through the root logger's last resort
    return handler


def serve(port: int, log_level: str) -> int:
    print_stack_errors()
    print("synthesising the CDK app (cached after the first run)...", flush=True)
    template = synth_template()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    started = time.perf_counter()
    stack = EmbeddedStack(template, gateway_port=port, log_level=log_level).start()
    parent = os.getppid()
    try:
        print(banner(stack, time.perf_counter() - started), flush=True)
        # Also stop if whoever started us (make) is gone: never leave a server behind.
        while not stop.wait(0.5):
            if os.getppid() != parent:
                break
    finally:
        print("\nstopping the embedded stack...", flush=True)
        stack.stop()
    print("stopped; port freed", flush=True)
    return 0


def banner(stack: EmbeddedStack, seconds: float) -> str:
    lines = [
        f"orderhub embedded stack is up ({len(stack.template['Resources'])} resources from "
        f"the CDK template, started in {seconds:.1f} s)",
        "",
        "Providers (shared/registry.py; set the environment variables to use your own):",
    ]
    for provider in registry.providers():
        lines.append(f"  {provider.title} ({provider.kind.value})")
        lines += [f"    {line}" for line in ingress_lines(stack, provider)]
        seeded = stack.provider_secrets.get(provider.name, {})
        for field in provider.secrets:
            value = seeded.get(field.name) or f"(unset: {field.description})"
            lines.append(f"    {field.env:<24} {field.name} = {value}")
    lines += [
        "",
        "Test-mode payments pay orders (a sandbox): "
        + ("no" if os.environ.get("ORDERHUB_ACCEPT_TEST_PAYMENTS") == "false" else "yes"),
    ]
    lines += [
        "",
        f"API: {stack.url}/api/v1  (Authorization: Bearer {stack.api_key})",
        "  OpenAPI document: docs/openapi.json",
        f"  curl -H 'Authorization: Bearer {stack.api_key}' {stack.url}/api/v1/orders",
        f"  curl -H 'Authorization: Bearer {stack.api_key}' "
        f"{stack.url}/api/v1/stock/MUG-KRAKOW-350",
        "",
        f"AWS APIs (moto): {stack.endpoint}  e.g. aws --endpoint-url {stack.endpoint} "
        f"dynamodb scan --table-name {stack.table_name}",
        "",
        "Errors of the embedded stack itself are printed here as EMBEDDED STACK ERROR lines.",
        "Ctrl-C stops.",
    ]
    return "\n".join(lines)


def ingress_lines(stack: EmbeddedStack, provider: Provider) -> list[str]:
    """Where the provider's deliveries come in, locally, and how to send one yourself."""
    if isinstance(provider.ingress, Poll):
        return [
            f"polled every {provider.ingress.every_minutes} min by rule "
            f"{stack.poll_schedule(provider.name)} (its API: the {provider.ingress.base_url_field} "
            "below)"
        ]
    if isinstance(provider.ingress, Queue):
        url = stack.queue_url(provider.name)
        return [
            f"SQS queue {url}",
            f"aws --endpoint-url {stack.endpoint} sqs send-message --queue-url {url} "
            "--message-body '<notification JSON>'",
        ]
    return [f"POST {stack.url}{provider.path}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run until Ctrl-C")
    serve_parser.add_argument(
        "--port", type=int, default=int(os.environ.get("ORDERHUB_PORT", "3000"))
    )
    serve_parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    commands.add_parser("demo", help="run the main job end to end and print a verdict")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.port, args.log_level)
    from infra.local.demo import run_demo

    return run_demo()


if __name__ == "__main__":
    sys.exit(main())
