"""One module per provider: authenticity checks, payload mapping, outbound clients. No DynamoDB."""
