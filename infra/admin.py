"""Operator commands against a deployed stack (uses your AWS credentials).

python -m infra.admin create-api-key --stack orderhub-dev --name erp --scopes orders:read
python -m infra.admin revoke-api-key --stack orderhub-dev --key ohk_...
"""

from __future__ import annotations

import argparse
import sys

import boto3

from shared.services.clock import utc_now
from shared.store.api_keys import ALL_SCOPES, ApiKeyRepository, generate_key, hash_key
from shared.store.table import Table


def table_of(stack: str) -> Table:
    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0][
        "Outputs"
    ]
    name = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "TableName")
    return Table(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-api-key")
    create.add_argument("--stack", required=True)
    create.add_argument("--name", required=True, help="who uses the key, e.g. erp")
    create.add_argument(
        "--scopes",
        default=",".join(sorted(ALL_SCOPES)),
        help=f"comma-separated, from {sorted(ALL_SCOPES)}",
    )
    revoke = commands.add_parser("revoke-api-key")
    revoke.add_argument("--stack", required=True)
    revoke.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    table = table_of(args.stack)
    if args.command == "create-api-key":
        key = generate_key()
        scopes = frozenset(s.strip() for s in args.scopes.split(",") if s.strip())
        ApiKeyRepository(table).create(key, name=args.name, scopes=scopes, at=utc_now())
        print(key)
        print("stored hashed: this is the only time the key is shown", file=sys.stderr)
        return 0
    table.update(
        f"APIKEY#{hash_key(args.key)}",
        "APIKEY",
        "SET revoked = :yes",
        condition="attribute_exists(PK)",
        values={":yes": True},
    )
    print("revoked", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
