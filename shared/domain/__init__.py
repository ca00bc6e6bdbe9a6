"""Pure domain model: no boto3, no httpx, no I/O."""
