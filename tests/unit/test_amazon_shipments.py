"""What a shipment confirmation names: Amazon's carrier codes and numeric package references."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import registry
from shared.providers.channels.amazon.client import (
    AmazonShipments,
    carrier_fields,
    package_reference,
)


def test_the_registry_names_this_client() -> None:
    assert registry.provider("amazon").channel_client_factory() is AmazonShipments


@pytest.mark.parametrize(
    ("carrier", "fields"),
    [
        ("dhl", {"carrierCode": "DHL"}),
        ("DPD", {"carrierCode": "DPD"}),
        ("ups", {"carrierCode": "UPS"}),
        ("inpost", {"carrierCode": "InPost"}),
        ("gls", {"carrierCode": "GLS"}),
        ("Royal Mail", {"carrierCode": "Royal Mail"}),
        ("royal-mail", {"carrierCode": "Royal Mail"}),
        ("poczta_polska", {"carrierCode": "Other", "carrierName": "Poczta Polska"}),
        ("Kurier Lokalny", {"carrierCode": "Other", "carrierName": "Kurier Lokalny"}),
    ],
)
def test_carriers_are_amazons_codes_or_other_with_a_name(
    carrier: str, fields: dict[str, str]
) -> None:
    assert carrier_fields(carrier) == fields


def test_a_numeric_shipment_id_is_its_own_package_reference() -> None:
    assert package_reference("42") == "42"


@given(shipment_id=st.text(min_size=1, max_size=80))
def test_any_shipment_id_gives_one_stable_positive_number(shipment_id: str) -> None:
    reference = package_reference(shipment_id)

    assert reference.isdigit() and int(reference) > 0 and len(reference) <= 18
    assert package_reference(shipment_id) == reference
