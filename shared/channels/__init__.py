"""The sales channels context: what orderhub tells each channel back (shipments, tracking), the
listing mapping from a channel's offers to internal SKUs, and per-shop channel settings."""
