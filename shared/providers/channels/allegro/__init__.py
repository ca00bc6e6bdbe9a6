"""Allegro: the order journal polled (`GET /order/events`), checkout forms mapped to orders,
shipments and the fulfillment status pushed back, OAuth with rotating refresh tokens.

Docs: developer.allegro.pl/tutorials/jak-obslugiwac-zamowienia-GRaj0qyvwtR (orders),
developer.allegro.pl/en/auth/ (device flow, refresh tokens), developer.allegro.pl/documentation
(the REST reference).
"""
