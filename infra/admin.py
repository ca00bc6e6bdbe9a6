"""Operator commands against a deployed stack (uses your AWS credentials).

python -m infra.admin create-api-key --stack orderhub-dev --name erp --scopes orders:read
python -m infra.admin revoke-api-key --stack orderhub-dev --key ohk_...
python -m infra.admin failed-webhooks --stack orderhub-dev
python -m infra.admin replay-webhook --stack orderhub-dev --source stripe --event-id evt_...
python -m infra.admin show-webhook --stack orderhub-dev --source shopify --event-id <id>
python -m infra.admin allegro-login --stack orderhub-dev
    (Allegro's device flow: confirm in the browser as the seller; the refresh token the
    poller then keeps rotating is stored in the stack's allegro secret)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import boto3

from shared import registry
from shared.inbox.store import InboxRepository, raw_body_of
from shared.platform.api_keys import ALL_SCOPES, ApiKeyRepository, generate_key, hash_key
from shared.platform.clock import utc_now
from shared.platform.table import Table


def outputs_of(stack: str) -> dict[str, str]:
    described = boto3.client("cloudformation").describe_stacks(StackName=stack)
    return {o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0]["Outputs"]}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-api-key", help="print a new key once; stored hashed")
    create.add_argument("--name", required=True, help="who uses the key, e.g. erp")
    create.add_argument(
        "--scopes",
        default=",".join(sorted(ALL_SCOPES)),
        help=f"comma-separated, from {sorted(ALL_SCOPES)}",
    )
    revoke = commands.add_parser("revoke-api-key")
    revoke.add_argument("--key", required=True)
    commands.add_parser("failed-webhooks", help="deliveries whose processing failed")
    # Any provider's delivery, whatever its ingress (webhook, poll, queue): the registry's names.
    sources = [provider.name for provider in registry.providers()]
    for name in ("replay-webhook", "show-webhook"):
        command = commands.add_parser(name)
        command.add_argument("--source", required=True, choices=sources)
        command.add_argument("--event-id", required=True)
    commands.add_parser(
        "allegro-login",
        help="authorise orderhub as the Allegro seller (OAuth device flow); stores the token",
    )
    for command in commands.choices.values():
        command.add_argument("--stack", required=True, help="e.g. orderhub-dev")
    return parser


def allegro_login(stack: str) -> int:
    """The device flow against the secret's environment (sandbox or production): the
    client id and secret must be in `<stack>/allegro` first; the tokens are merged into it."""
    import httpx

    from shared.providers.channels.allegro.oauth import device_login, endpoints

    secrets = boto3.client("secretsmanager")
    secret_id = outputs_of(stack)["AllegroSecretName"]
    document = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    if not document.get("client_id") or not document.get("client_secret"):
        print(f"put client_id and client_secret into {secret_id} first", file=sys.stderr)
        return 1
    with httpx.Client(timeout=30) as http:
        tokens = device_login(
            document["client_id"],
            document["client_secret"],
            endpoints(document).auth,
            http,
            show=lambda text: print(text, file=sys.stderr),
        )
    document.update(tokens)
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps(document))
    print(f"stored in {secret_id}: the poller starts with its next run", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "allegro-login":
        return allegro_login(args.stack)
    table = Table(outputs_of(args.stack)["TableName"])
    inbox = InboxRepository(table)
    if args.command == "create-api-key":
        key = generate_key()
        scopes = frozenset(s.strip() for s in args.scopes.split(",") if s.strip())
        ApiKeyRepository(table).create(key, name=args.name, scopes=scopes, at=utc_now())
        print(key)
        print("stored hashed: this is the only time the key is shown", file=sys.stderr)
    elif args.command == "revoke-api-key":
        table.update(
            f"APIKEY#{hash_key(args.key)}",
            "APIKEY",
            "SET revoked = :yes",
            condition="attribute_exists(PK)",
            values={":yes": True},
        )
        print("revoked (containers stop accepting it within a minute)", file=sys.stderr)
    elif args.command == "failed-webhooks":
        for failure in inbox.failures():
            print(
                json.dumps(
                    {
                        k: failure.get(k)
                        for k in (
                            "source",
                            "event_id",
                            "failure",  # "error", or "unknown_order" for a payment kept aside
                            "attempts",
                            "failed_at",
                            "last_error",
                        )
                    }
                )
            )
    elif args.command == "replay-webhook":
        if not inbox.replay(args.source, args.event_id):
            print("no such delivery (expired after the inbox retention?)", file=sys.stderr)
            return 1
        print("replayed: the delivery is processed again", file=sys.stderr)
    else:
        item = inbox.get(args.source, args.event_id)
        if item is None:
            print("no such delivery", file=sys.stderr)
            return 1
        bucket = outputs_of(args.stack)["DocumentsBucket"]
        s3 = boto3.client("s3")

        def blob(key: str) -> Any:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

        body = raw_body_of(item, blob)
        print(
            json.dumps(
                {k: v for k, v in item.items() if k not in ("raw_zlib", "envelope_zlib")},
                default=str,
                indent=2,
            )
        )
        sys.stdout.write((body or b"").decode("utf-8", "replace") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
