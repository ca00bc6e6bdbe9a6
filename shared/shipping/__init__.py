"""The shipping context: shipments of an order (recorded through the API today, created through
carrier APIs later) and telling the order's channel about them."""
