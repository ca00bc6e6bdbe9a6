"""Amazon Selling Partner API: ORDER_CHANGE notifications on SQS, orders fetched with an LWA
token and a restricted data token, shipments confirmed back (Orders API v0).

- lwa.py: Login with Amazon access tokens (refresh_token grant), cached per process.
- api.py: the SP-API hosts (region, sandbox), one call under the error policy.
- notifications.py: the queue adapter (`fetch` the order, then pure `parse`).
- orders.py: the getOrder / getOrderItems payloads and their canonical Order.
- marketplaces.py: marketplace ids, and the VAT rates a line's tax amount rounds to.
- client.py: `confirmShipment` (a channel client; httpx lives only there).
- simulator.py: Amazon's side over HTTP on 127.0.0.1, for tests and the embedded stack.
"""
