"""Every sales channel into one order book, over the channels' own transports: Shopify and
WooCommerce webhooks signed as they sign, Allegro's order journal pulled by its poller, Amazon's
ORDER_CHANGE notifications on the stack's SQS queue, the own store's POST /api/v1/orders.
Each channel's order arrives once however it is delivered (twice, under new ids, its update
before its create), its changes and cancellations apply, an unknown SKU holds the order until
the shop maps it, and a shipment's tracking number reaches the channel's simulated API in the
shape the channel documents."""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import httpx

from infra.local.stack import EmbeddedStack
from shared.providers.simulation import Line
from tests.conftest import eventually

MUG = Line("MUG-KRAKOW-350", "Kubek Kraków 350 ml", 1, "49.00")
TEE = Line("TEE-ORGANIC-M", "Koszulka organiczna M", 2, "89.00")
_ids = itertools.count(int(uuid.uuid4().int % 10**6) * 1000)


def orders_of(http: httpx.Client, channel: str, external_id: str) -> list[dict[str, Any]]:
    answer = http.get("/api/v1/orders", params={"channel": channel, "external_id": external_id})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]  # type: ignore[no-any-return]


def the_order(http: httpx.Client, channel: str, external_id: str, **wanted: Any) -> dict[str, Any]:
    """The one order the channel's id names, once it is stored and its fields say `wanted`."""

    def view() -> dict[str, Any] | None:
        found = orders_of(http, channel, external_id)
        assert len(found) <= 1, found
        if not found:
            return None
        return http.get(f"/api/v1/orders/{found[0]['order_id']}").json()  # type: ignore[no-any-return]

    found = eventually(
        view,
        lambda o: o is not None and all(field(o, k) == v for k, v in wanted.items()),
    )
    assert found is not None
    return found


def field(view: dict[str, Any], path: str) -> Any:
    value: Any = view
    for part in path.split("__"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def run_poller(stack: EmbeddedStack, provider: str) -> dict[str, Any]:
    """What the provider's EventBridge schedule does: run its poller once, to the end."""
    name = stack._physical("AWS::Lambda::Function", f"{stack_name(provider)}Poller")
    answer = stack.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    report: dict[str, Any] = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, report
    return report


def stack_name(provider: str) -> str:
    return "".join(part.capitalize() for part in provider.split("_"))


def ship(http: httpx.Client, order_id: str, tracking: str) -> dict[str, Any]:
    answer = http.post(
        f"/api/v1/orders/{order_id}/shipments",
        json={"carrier": "inpost", "tracking_number": tracking},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def notified(http: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = eventually(
        lambda: http.get(f"/api/v1/orders/{order_id}/shipments").json()["items"],
        lambda items: bool(items) and all(s["channel_notified"] for s in items),
        timeout=30,
    )
    return items


# -- Shopify ------------------------------------------------------------------------------------
def test_shopify_an_update_before_its_create_and_duplicates_make_one_current_order(
    http: httpx.Client, embedded: EmbeddedStack
) -> None:
    shopify = embedded.simulator("shopify")
    created = shopify.order(next(_ids), [MUG], cash_on_delivery=True)
    moved = dict(created["shipping_address"], address1="ul. Nowa 5", city="Gdańsk")
    updated = shopify.updated(created, shipping_address=moved)
    # The update overtakes the create; the create comes twice, once under another webhook id.
    assert shopify.webhook("orders/updated", updated).send(http).status_code == 200
    create = shopify.webhook("orders/create", created)
    assert create.send(http).status_code == 200
    assert shopify.webhook("orders/create", created).send(http).status_code == 200
    assert create.send(http).status_code == 200

    view = the_order(http, "shopify", str(created["id"]), status="ready_to_ship")
    assert view["delivery"]["city"] == "Gdańsk"
    # Shipped through the API: Shopify gets a fulfillment with the tracking number.
    ship(http, view["order_id"], "SHOP-TRK-1")
    (shipment,) = notified(http, view["order_id"])
    fulfillments = shopify.fulfillments(created["id"])
    assert [f["trackingInfo"][0]["number"] for f in fulfillments] == ["SHOP-TRK-1"]
    mutation = [  # (the simulator serves every test of this stack: this order's only)
        r
        for r in shopify.requests
        if "fulfillmentCreate" in json.dumps(r.get("json") or {})
        and "SHOP-TRK-1" in json.dumps(r.get("json") or {})
    ]
    assert len(mutation) == 1
    variables = mutation[0]["json"]["variables"]["fulfillment"]
    assert variables["trackingInfo"]["number"] == "SHOP-TRK-1"
    assert variables["lineItemsByFulfillmentOrder"][0]["fulfillmentOrderId"].startswith(
        "gid://shopify/FulfillmentOrder/"
    )
    headers = {name.lower(): value for name, value in mutation[0]["headers"].items()}
    assert headers["x-shopify-access-token"].startswith("shpat_")
    assert shipment["channel_reference"] == fulfillments[0]["id"]
    shipped = the_order(http, "shopify", str(created["id"]), status="shipped")
    assert shipped["status"] == "shipped"


def test_shopify_a_cancellation_cancels_here_and_gives_the_stock_back(
    http: httpx.Client, embedded: EmbeddedStack
) -> None:
    shopify = embedded.simulator("shopify")
    before = http.get("/api/v1/stock/TEE-ORGANIC-M").json()["reserved"]
    created = shopify.order(next(_ids), [TEE], cash_on_delivery=True)
    assert shopify.webhook("orders/create", created).send(http).status_code == 200
    the_order(http, "shopify", str(created["id"]), status="ready_to_ship")
    assert http.get("/api/v1/stock/TEE-ORGANIC-M").json()["reserved"] == before + 2

    cancelled = shopify.cancelled(created)
    assert shopify.webhook("orders/cancelled", cancelled).send(http).status_code == 200
    view = the_order(http, "shopify", str(created["id"]), status="cancelled")
    assert view["status_reason"] == "cancelled_on_channel"
    assert http.get("/api/v1/stock/TEE-ORGANIC-M").json()["reserved"] == before
    # (A late, older update changing nothing is checked where its processing can be awaited:
    # tests/integration/test_channel_changes.py.)


def test_an_unknown_sku_holds_the_order_until_the_listing_is_mapped_and_released(
    http: httpx.Client, embedded: EmbeddedStack
) -> None:
    shopify = embedded.simulator("shopify")
    odd = Line("SHOPIFY-ONLY-VARIANT", "Kubek (wariant)", 1, "49.00")
    created = shopify.order(next(_ids), [odd], cash_on_delivery=True)
    assert shopify.webhook("orders/create", created).send(http).status_code == 200
    view = the_order(http, "shopify", str(created["id"]))
    assert view["held"] is not None and view["held"].startswith("unknown_sku: line 1")
    assert view["status"] == "received"
    # Releasing before mapping is refused, naming what is missing.
    refused = http.post(f"/api/v1/orders/{view['order_id']}/release", json={})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "unmapped_lines"

    variant = str(created["line_items"][0]["variant_id"])
    mapped = http.put(f"/api/v1/listings/shopify/{variant}", json={"sku": MUG.sku})
    assert mapped.status_code == 200, mapped.text
    released = http.post(f"/api/v1/orders/{view['order_id']}/release", json={})
    assert released.status_code == 200, released.text
    ready = the_order(http, "shopify", str(created["id"]), status="ready_to_ship")
    assert ready["lines"][0]["sku"] == MUG.sku
    assert ready["held"] is None


# -- WooCommerce ---------------------------------------------------------------------------------
def test_woocommerce_update_before_create_and_a_dropped_delivery_repaired_by_the_poll(
    http: httpx.Client, embedded: EmbeddedStack
) -> None:
    woo = embedded.simulator("woocommerce")
    first = woo.put(woo.order(next(_ids), [MUG], cash_on_delivery=True))
    second = woo.put(dict(first, customer_note="Proszę dzwonić"))
    # order.updated (newer) first, then order.created (older): one order, the newer version.
    assert woo.webhook("order.updated", second).send(http).status_code == 200
    assert woo.webhook("order.created", first).send(http).status_code == 200
    view = the_order(http, "woocommerce", str(first["id"]), status="ready_to_ship")
    assert view["note"] == "Proszę dzwonić"
    # The ping WooCommerce sends when a webhook is created is answered and ignored.
    assert woo.ping(7).send(http).status_code == 200

    # A delivery WooCommerce dropped (it never retries): only the poll finds the order.
    dropped = woo.put(woo.order(next(_ids), [MUG], cash_on_delivery=True))
    run_poller(embedded, "woocommerce")
    repaired = the_order(http, "woocommerce", str(dropped["id"]), status="ready_to_ship")
    assert repaired["channel"] == "woocommerce"
    # Polling again stores nothing new (every order it finds is a duplicate in the inbox),
    # so nothing is there to create twice.
    again = run_poller(embedded, "woocommerce")
    assert "accepted" not in again["receipts"], again
    assert len(orders_of(http, "woocommerce", str(dropped["id"]))) == 1

    ship(http, view["order_id"], "WOO-TRK-1")
    notified(http, view["order_id"])
    notes = [n["note"] for n in woo.notes(int(first["id"]))]
    assert any("WOO-TRK-1" in note for note in notes), notes
    assert woo.stored(int(first["id"]))["status"] == "completed"
    posted = [
        r
        for r in woo.requests
        if r["method"] == "POST" and r["path"] == f"/wp-json/wc/v3/orders/{first['id']}/notes"
    ]
    assert len(posted) == 1 and posted[0]["json"]["customer_note"] is True


# -- Allegro -------------------------------------------------------------------------------------
def test_allegro_journal_orders_cancellations_and_a_replay_from_an_old_cursor(
    http: httpx.Client, embedded: EmbeddedStack
) -> None:
    allegro = embedded.simulator("allegro")
    run_poller(embedded, "allegro")  # the first run starts the cursor at the journal's end
    start = cursor_of(embedded, "allegro")
    bought = allegro.buy([MUG], cod=True, pickup_point="POZ08A")
    cancelled = allegro.buy([TEE], cod=True)
    allegro.modify(bought, city="Poznań-Jeżyce")
    run_poller(embedded, "allegro")
    view = the_order(http, "allegro", bought, status="ready_to_ship")
    assert view["delivery"]["kind"] == "pickup_point"
    assert view["delivery"]["point_id"] == "POZ08A"
    the_order(http, "allegro", cancelled, status="ready_to_ship")

    allegro.cancel(cancelled)
    run_poller(embedded, "allegro")
    assert the_order(http, "allegro", cancelled, status="cancelled")["status"] == "cancelled"

    # Replay the whole journal from the cursor before these orders: nothing twice.
    set_cursor(embedded, "allegro", start)
    replayed = run_poller(embedded, "allegro")
    assert replayed["receipts"].get("duplicate", 0) > 0, replayed
    assert "accepted" not in replayed["receipts"], replayed
    assert len(orders_of(http, "allegro", bought)) == 1
    assert len(orders_of(http, "allegro", cancelled)) == 1
    assert the_order(http, "allegro", cancelled)["status"] == "cancelled"

    ship(http, view["order_id"], "ALG-TRK-1")
    notified(http, view["order_id"])
    assert [s["waybill"] for s in allegro.shipments(bought)] == ["ALG-TRK-1"]
    assert allegro.form(bought)["fulfillment"]["status"] == "SENT"
    posted = [
        r
        for r in allegro.requests
        if r["method"] == "POST" and r["path"] == f"/order/checkout-forms/{bought}/shipments"
    ]
    assert len(posted) == 1
    assert posted[0]["json"]["carrierId"] == "INPOST"
    assert posted[0]["json"]["lineItems"] == [{"id": view["lines"][0]["channel_line_id"]}]


def cursor_of(stack: EmbeddedStack, source: str) -> str:
    item = stack.client("dynamodb").get_item(
        TableName=stack.table_name,
        Key={"PK": {"S": f"CURSOR#{source}"}, "SK": {"S": "CURSOR"}},
        ConsistentRead=True,
    )["Item"]
    return str(item["resume_from"]["S"])


def set_cursor(stack: EmbeddedStack, source: str, value: str) -> None:
    stack.client("dynamodb").update_item(
        TableName=stack.table_name,
        Key={"PK": {"S": f"CURSOR#{source}"}, "SK": {"S": "CURSOR"}},
        UpdateExpression="SET resume_from = :v",
        ExpressionAttributeValues={":v": {"S": value}},
    )


# -- Amazon --------------------------------------------------------------------------------------
def test_amazon_notifications_on_the_queue_make_one_order_per_amazon_order(
    http: httpx.Client, embedded: EmbeddedStack
) -> None:
    amazon = embedded.simulator("amazon")
    sqs, url = embedded.client("sqs"), embedded.queue_url("amazon")
    order_id = amazon.place_order([MUG, TEE], marketplace="A1PA6795UKMFR9", currency="EUR")
    notice = amazon.notification(order_id)
    # At least once: the same notification twice, and another one about the same order.
    for body in (notice, notice, amazon.notification(order_id)):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    view = the_order(http, "amazon", order_id)
    assert view["totals"]["total"]["currency"] == "EUR"
    paid = the_order(http, "amazon", order_id, status="ready_to_ship")
    assert paid["payment"]["status"] == "paid"  # Amazon collected the money itself
    assert len(orders_of(http, "amazon", order_id)) == 1

    ship(http, paid["order_id"], "AMZ-TRK-1")
    notified(http, paid["order_id"])
    (package,) = amazon.packages(order_id)
    assert package["trackingNumber"] == "AMZ-TRK-1"
    confirmations = [
        r
        for r in amazon.requests
        if r["path"] == f"/orders/v0/orders/{order_id}/shipmentConfirmation"
    ]
    assert len(confirmations) == 1
    body = confirmations[0]["json"]
    assert body["marketplaceId"] == "A1PA6795UKMFR9"
    assert {i["orderItemId"] for i in body["packageDetail"]["orderItems"]} == {
        line["channel_line_id"] for line in paid["lines"]
    }


# -- the own store ---------------------------------------------------------------------------------
def test_the_own_store_posts_orders_once_per_idempotency_key(http: httpx.Client) -> None:
    external = f"STORE-{next(_ids)}"
    body = {
        "external_id": external,
        "currency": "PLN",
        "lines": [{"sku": MUG.sku, "quantity": 1, "unit_price": 4900, "vat_rate": 23}],
        "shipping": 1299,
        "buyer": {"email": "Anna@Example.PL", "name": "Anna Nowak", "phone": "+48500100200"},
        "delivery": {"kind": "pickup_point", "carrier": "inpost", "point_id": "KRA01M"},
        "payment_method": "cash_on_delivery",
    }
    key = {"Idempotency-Key": f"checkout-{external}"}
    first = http.post("/api/v1/orders", json=body, headers=key)
    assert first.status_code == 201, first.text
    again = http.post("/api/v1/orders", json=body, headers=key)
    assert again.status_code == 201
    assert again.json()["order_id"] == first.json()["order_id"]
    other = http.post("/api/v1/orders", json=dict(body, shipping=0), headers=key)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    view = the_order(http, "store", external, status="ready_to_ship")
    assert view["totals"]["total"]["amount"] == 4900 + 1299
    found = http.get("/api/v1/orders", params={"email": "anna@example.pl", "channel": "store"})
    assert [o["order_id"] for o in found.json()["items"]] == [view["order_id"]]
