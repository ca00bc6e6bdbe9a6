"""CloudFormation intrinsics resolved against what the local deployer created."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.template import NO_VALUE, Physical, Resolver, resources_of_type

TABLE_ARN = "arn:aws:dynamodb:eu-central-1:123456789012:table/orders"
TEMPLATE: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "IsNotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
        "DevOrTest": {
            "Fn::Or": [{"Fn::Equals": [{"Ref": "Stage"}, "dev"]}, {"Fn::Equals": ["a", "b"]}]
        },
        "DevAndEu": {
            "Fn::And": [
                {"Condition": "IsNotProd"},
                {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-central-1"]},
            ]
        },
    },
    "Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table"},
        "Queue": {"Type": "AWS::SQS::Queue"},
    },
}


class Created:
    """The deployer's `ensure`: creates on first use, records what was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.physical = {
            "Table": Physical("orders", {"Arn": TABLE_ARN, "StreamArn": TABLE_ARN + "/stream/1"}),
            "Queue": Physical(
                "https://sqs/dlq", {"Arn": "arn:aws:sqs:eu-central-1:123456789012:dlq"}
            ),
        }

    def __call__(self, logical: str) -> Physical:
        self.asked.append(logical)
        return self.physical[logical]


@pytest.fixture
def created() -> Created:
    return Created()


@pytest.fixture
def resolver(created: Created) -> Resolver:
    return Resolver(
        TEMPLATE,
        region="eu-central-1",
        account="123456789012",
        stack_name="orderhub",
        ensure=created,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AWS::Region", "eu-central-1"),
        ("AWS::AccountId", "123456789012"),
        ("AWS::Partition", "aws"),
        ("AWS::URLSuffix", "amazonaws.com"),
        ("AWS::StackName", "orderhub"),
        ("AWS::StackId", "arn:aws:cloudformation:eu-central-1:123456789012:stack/orderhub/local"),
    ],
)
def test_ref_to_pseudo_parameters(
    resolver: Resolver, created: Created, name: str, value: str
) -> None:
    assert resolver.resolve({"Ref": name}) == value
    assert created.asked == []  # no resource is created for a pseudo parameter


def test_ref_to_a_parameter_is_its_default(resolver: Resolver) -> None:
    assert resolver.resolve({"Ref": "Stage"}) == "dev"


def test_ref_and_getatt_ensure_the_resource(resolver: Resolver, created: Created) -> None:
    assert resolver.resolve({"Ref": "Table"}) == "orders"
    assert resolver.resolve({"Fn::GetAtt": ["Table", "Arn"]}) == TABLE_ARN
    assert resolver.resolve({"Fn::GetAtt": "Table.StreamArn"}) == TABLE_ARN + "/stream/1"
    assert created.asked == ["Table", "Table", "Table"]


def test_getatt_of_an_attribute_the_local_stack_lacks_is_an_error(resolver: Resolver) -> None:
    with pytest.raises(KeyError, match="Table has no attribute StreamLabel"):
        resolver.resolve({"Fn::GetAtt": ["Table", "StreamLabel"]})


def test_join(resolver: Resolver) -> None:
    value = {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::bucket-", {"Ref": "Stage"}]]
    }
    assert resolver.resolve(value) == "arn:aws:s3:::bucket-dev"


def test_sub_with_a_string(resolver: Resolver) -> None:
    value = {
        "Fn::Sub": "${AWS::StackName}-${Stage} reads ${Table} at ${Table.Arn}, literally ${!Table}"
    }
    assert (
        resolver.resolve(value) == f"orderhub-dev reads orders at {TABLE_ARN}, literally ${{Table}}"
    )


def test_sub_with_a_variable_map(resolver: Resolver) -> None:
    value = {
        "Fn::Sub": [
            "${Name}/${AWS::Region}/${Arn}",
            {"Name": "orders", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}},
        ]
    }
    assert (
        resolver.resolve(value) == "orders/eu-central-1/arn:aws:sqs:eu-central-1:123456789012:dlq"
    )


def test_select_and_split(resolver: Resolver) -> None:
    # The table name out of its ARN, the way CDK does it
    value = {"Fn::Select": [1, {"Fn::Split": ["/", {"Fn::GetAtt": ["Table", "Arn"]}]}]}
    assert resolver.resolve(value) == "orders"
    assert resolver.resolve({"Fn::Select": ["0", ["a", "b"]]}) == "a"


def test_get_azs_are_three_in_the_region(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::GetAZs": ""}) == [
        "eu-central-1a",
        "eu-central-1b",
        "eu-central-1c",
    ]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [("IsProd", False), ("IsNotProd", True), ("DevOrTest", True), ("DevAndEu", True)],
)
def test_conditions(resolver: Resolver, condition: str, expected: bool) -> None:
    assert resolver.condition(condition) is expected


def test_if_picks_the_branch_of_its_condition(resolver: Resolver) -> None:
    value = {"Fn::If": ["IsProd", 3, {"Fn::If": ["IsNotProd", {"Ref": "Stage"}, "never"]}]}
    assert resolver.resolve(value) == "dev"


def test_no_value_removes_the_property_or_list_item(resolver: Resolver) -> None:
    # Given properties that only exist in prod
    properties = {
        "TableName": {"Ref": "Table"},
        "DeletionProtectionEnabled": {"Fn::If": ["IsProd", True, {"Ref": "AWS::NoValue"}]},
        "Tags": ["a", {"Fn::If": ["IsProd", "prod-only", {"Ref": "AWS::NoValue"}]}, "b"],
    }
    # When resolved outside prod, Then the key and the list item are gone, not null
    assert resolver.resolve(properties) == {"TableName": "orders", "Tags": ["a", "b"]}
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_plain_values_pass_through(resolver: Resolver) -> None:
    assert resolver.resolve({"A": [1, {"B": "x"}], "C": None}) == {"A": [1, {"B": "x"}], "C": None}


def test_resources_of_type() -> None:
    assert list(resources_of_type(TEMPLATE, "AWS::SQS::Queue")) == ["Queue"]
    assert resources_of_type({}, "AWS::SQS::Queue") == {}
