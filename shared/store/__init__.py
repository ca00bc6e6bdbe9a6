"""DynamoDB repositories over the single table (docs/architecture.md lists the items)."""
