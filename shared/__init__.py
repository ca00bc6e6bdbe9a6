"""Code every orderhub function imports: domain, store, integrations, services."""
