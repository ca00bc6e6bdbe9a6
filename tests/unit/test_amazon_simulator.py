"""The Amazon simulator keeps Amazon's documented contract (its `answer`, called in-process)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.providers.channels.amazon.simulator import AmazonSimulator
from shared.providers.simulation import Line
from tests.unit.conftest import fixture_json

SECRET = {
    "lwa_client_id": "amzn1.application-oa2-client.sim",
    "lwa_client_secret": "amzn1.oa2-cs.v1.sim",
    "refresh_token": "Atzr|sim",
}
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def amazon() -> AmazonSimulator:
    return AmazonSimulator.from_secret(SECRET)


def login(amazon: AmazonSimulator, **changes: str) -> Any:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": SECRET["refresh_token"],
        "client_id": SECRET["lwa_client_id"],
        "client_secret": SECRET["lwa_client_secret"],
        **changes,
    }
    raw = "&".join(f"{k}={v}" for k, v in form.items()).encode()
    return amazon.answer("POST", "/auth/o2/token", {"Content-Type": FORM}, raw)


def token_of(amazon: AmazonSimulator) -> str:
    token: str = login(amazon).body["access_token"]
    return token


def call(amazon: AmazonSimulator, method: str, path: str, token: str, body: Any = None) -> Any:
    raw = json.dumps(body).encode() if body is not None else b""
    return amazon.answer(method, path, {"x-amz-access-token": token}, raw)


def rdt(amazon: AmazonSimulator, path: str, elements: list[str]) -> str:
    resources = [{"method": "GET", "path": path, "dataElements": elements}]
    answer = call(
        amazon,
        "POST",
        "/tokens/2021-03-01/restrictedDataToken",
        token_of(amazon),
        {"restrictedResources": resources},
    )
    assert answer.status == 200, answer.body
    assert answer.body["expiresIn"] == 3600
    token: str = answer.body["restrictedDataToken"]
    return token


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"refresh_token": "Atzr|other"}, 400, "invalid_grant"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
    ],
)
def test_lwa_checks_the_app_and_the_sellers_authorisation(
    amazon: AmazonSimulator, changes: dict[str, str], status: int, error: str
) -> None:
    answer = login(amazon, **changes)

    assert (answer.status, answer.body["error"]) == (status, error)


def test_an_access_token_is_issued_for_an_hour(amazon: AmazonSimulator) -> None:
    answer = login(amazon)

    assert answer.status == 200
    assert answer.body["token_type"] == "bearer"
    assert answer.body["expires_in"] == 3600
    assert answer.body["access_token"].startswith("Atza|")


def test_sp_api_calls_need_a_live_token(amazon: AmazonSimulator) -> None:
    order_id = amazon.place_order([Line("MUG", "Mug", 1, "10.00")])
    token = token_of(amazon)
    amazon.revoke_tokens()

    for presented in ("", "Atza|made-up", token):
        answer = call(amazon, "GET", f"/orders/v0/orders/{order_id}", presented)
        assert (answer.status, answer.body["errors"][0]["code"]) == (403, "Unauthorized")


def test_an_rdt_shows_what_its_data_elements_cover_and_nothing_else(
    amazon: AmazonSimulator,
) -> None:
    order_id = amazon.place_order([Line("MUG", "Mug", 1, "10.00")])
    path = f"/orders/v0/orders/{order_id}"

    buyer_only = call(amazon, "GET", path, rdt(amazon, path, ["buyerInfo"])).body["payload"]
    address_only = call(amazon, "GET", path, rdt(amazon, path, ["shippingAddress"])).body["payload"]

    assert "BuyerInfo" in buyer_only and "AddressLine1" not in buyer_only["ShippingAddress"]
    assert "BuyerInfo" not in address_only and address_only["ShippingAddress"]["AddressLine1"]


def test_an_rdt_is_refused_for_other_resources(amazon: AmazonSimulator) -> None:
    first = amazon.place_order([Line("MUG", "Mug", 1, "10.00")])
    second = amazon.place_order([Line("MUG", "Mug", 1, "10.00")])
    token = rdt(amazon, f"/orders/v0/orders/{first}", ["buyerInfo"])

    other_order = call(amazon, "GET", f"/orders/v0/orders/{second}", token)
    confirm = call(amazon, "POST", f"/orders/v0/orders/{first}/shipmentConfirmation", token, {})

    assert other_order.status == 403
    assert confirm.status == 403


@pytest.mark.parametrize(
    "resources",
    [
        [],
        [{"method": "FETCH", "path": "/orders/v0/orders/1", "dataElements": ["buyerInfo"]}],
        [{"method": "GET", "path": "/orders/v0/orders/1", "dataElements": ["everything"]}],
        [{"method": "GET", "path": "/orders/v0/orders/1"}],  # Orders API needs dataElements
    ],
)
def test_an_rdt_request_amazon_could_not_grant_is_refused(
    amazon: AmazonSimulator, resources: list[Any]
) -> None:
    answer = call(
        amazon,
        "POST",
        "/tokens/2021-03-01/restrictedDataToken",
        token_of(amazon),
        {"restrictedResources": resources},
    )

    assert answer.status == 400


def test_pending_items_carry_no_prices(amazon: AmazonSimulator) -> None:
    order_id = amazon.place_order([Line("MUG", "Mug", 1, "10.00")], status="Pending")

    answer = call(amazon, "GET", f"/orders/v0/orders/{order_id}/orderItems", token_of(amazon))
    order = call(amazon, "GET", f"/orders/v0/orders/{order_id}", token_of(amazon))

    [item] = answer.body["payload"]["OrderItems"]
    assert "ItemPrice" not in item and "ItemTax" not in item
    assert "ShippingAddress" not in order.body["payload"]


def confirmation(amazon: AmazonSimulator, order_id: str, **package: Any) -> dict[str, Any]:
    item = amazon.items(order_id)[0]
    detail = {
        "packageReferenceId": "1",
        "carrierCode": "DHL",
        "trackingNumber": "00340434161094042557",
        "shipDate": "2026-11-30T10:00:00.000Z",
        "orderItems": [{"orderItemId": item["OrderItemId"], "quantity": 1}],
    }
    detail.update(package)
    return {"marketplaceId": "A1C3SOZRARQ6R3", "packageDetail": detail}


@pytest.mark.parametrize(
    ("package", "message"),
    [
        ({"packageReferenceId": "shp_1"}, "positive numeric"),
        ({"carrierCode": "Other"}, "carrierName"),
        ({"shipDate": "30/11/2026"}, "Invalid Input"),
        ({"trackingNumber": ""}, "trackingNumber"),
        ({"orderItems": [{"orderItemId": "1", "quantity": 1}]}, "OrderItemId"),
        ({"orderItems": []}, "orderItems"),
    ],
)
def test_a_confirmation_is_checked_as_documented(
    amazon: AmazonSimulator, package: dict[str, Any], message: str
) -> None:
    order_id = amazon.place_order([Line("MUG", "Mug", 1, "10.00")])
    path = f"/orders/v0/orders/{order_id}/shipmentConfirmation"

    answer = call(amazon, "POST", path, token_of(amazon), confirmation(amazon, order_id, **package))

    assert answer.status == 400
    assert message in json.dumps(answer.body)
    assert amazon.order(order_id)["OrderStatus"] == "Unshipped"


def test_a_second_confirmation_of_the_same_items_is_refused(amazon: AmazonSimulator) -> None:
    order_id = amazon.place_order([Line("MUG", "Mug", 1, "10.00")])
    path = f"/orders/v0/orders/{order_id}/shipmentConfirmation"
    before = amazon.order(order_id)["LastUpdateDate"]

    first = call(amazon, "POST", path, token_of(amazon), confirmation(amazon, order_id))
    second = call(amazon, "POST", path, token_of(amazon), confirmation(amazon, order_id))

    assert (first.status, first.body) == (204, None)
    assert second.status == 400
    assert "already fulfilled" in second.body["errors"][0]["message"]
    shipped = amazon.order(order_id)
    assert (shipped["OrderStatus"], shipped["NumberOfItemsUnshipped"]) == ("Shipped", 0)
    assert shipped["LastUpdateDate"] > before


def test_a_wrong_marketplace_is_refused(amazon: AmazonSimulator) -> None:
    order_id = amazon.place_order([Line("MUG", "Mug", 1, "10.00")])
    body = {**confirmation(amazon, order_id), "marketplaceId": "A1PA6795UKMFR9"}

    answer = call(
        amazon, "POST", f"/orders/v0/orders/{order_id}/shipmentConfirmation", token_of(amazon), body
    )

    assert answer.status == 400


def test_the_notification_is_shaped_like_amazons_example(amazon: AmazonSimulator) -> None:
    reference = fixture_json("amazon/order_change_notification_schema_example.json")
    order_id = amazon.place_order([Line("MUG", "Mug", 2, "10.00")])

    built = json.loads(amazon.notification(order_id, notification_id="n-1"))

    assert set(built) == set(reference)
    assert set(built["NotificationMetadata"]) == set(reference["NotificationMetadata"])
    change = built["Payload"]["OrderChangeNotification"]
    assert set(change) == set(reference["Payload"]["OrderChangeNotification"])
    assert change["AmazonOrderId"] == order_id
    assert change["SellerId"] == amazon.seller_id
    assert change["Summary"]["OrderItems"][0]["Quantity"] == 2
    assert built["NotificationMetadata"]["NotificationId"] == "n-1"


def test_rate_limits_answer_429_to_the_operation_named(amazon: AmazonSimulator) -> None:
    order_id = amazon.place_order([Line("MUG", "Mug", 1, "10.00")])
    token = token_of(amazon)
    amazon.rate_limit(1, operation="getOrderItems")

    order = call(amazon, "GET", f"/orders/v0/orders/{order_id}", token)
    throttled = call(amazon, "GET", f"/orders/v0/orders/{order_id}/orderItems", token)
    again = call(amazon, "GET", f"/orders/v0/orders/{order_id}/orderItems", token)

    assert (order.status, throttled.status, again.status) == (200, 429, 200)
    assert throttled.body["errors"][0]["code"] == "QuotaExceeded"
    assert order.headers["x-amzn-RateLimit-Limit"] == "0.5"
