"""Przelewy24 (REST API v1): transaction and refund notifications, the API client (register,
verify, refund, lookups) and a simulator of P24's side. Docs: developers.przelewy24.pl."""
