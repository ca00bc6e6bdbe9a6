"""WooCommerce as a sales channel: order webhooks (webhook.py), the repair poll of the REST API
v3 (poll.py: WooCommerce delivers each webhook once and never retries), the order mapping
(mapping.py), tracking back to the store (client.py) and a simulator of the store (simulator.py).

Docs: https://woocommerce.github.io/woocommerce-rest-api-docs/ (orders, order notes, webhooks).
"""
