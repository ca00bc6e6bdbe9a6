"""PayU (REST API v2.1, developers.payu.com/europe): order and refund notifications signed
with the POS's second key (webhook.py), the orders, captures and refunds API (client.py), and
PayU's side of both for tests and the embedded stack (simulator.py)."""
