"""The registry and the template agree: every provider (the real ones and the fictional ones of
tests/fictional/acme, added only through ORDERHUB_EXTRA_PROVIDERS) has its ingress (a route, a
schedule or a queue), its own function, secret, least-privilege role and alarms, and nothing in
the template serves a provider the registry does not list. The README's provider table and the
admin CLI are derived from the same list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.constructs.ingress import POLL_HANDLER, QUEUE_HANDLER, WEBHOOK_HANDLER
from infra.local.template import resources_of_type
from shared import registry
from shared.registry import EXTRA_PROVIDERS_ENV, Poll, Provider, Queue, Webhook
from tests.fictional import acme

STACK = "orderhub-dev"
EVERY_PROVIDER = registry.PROVIDERS + acme.PROVIDERS
README = Path(__file__).resolve().parents[2] / "README.md"
Template = dict[str, Any]


@pytest.fixture(scope="module")
def with_fictional() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EXTRA_PROVIDERS_ENV, acme.REFERENCE)
        yield


@pytest.fixture(scope="module")
def synthesised(with_fictional: None) -> Template:
    """`cdk synth` of the app (cdk.json context, cdk-nag: any unacknowledged finding fails it)
    with the fictional providers in the registry; cached on disk by infra/local/synth.py."""
    from infra.local.synth import synth_template

    return synth_template()


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return resources_of_type(template, kind)


def ingress_functions(template: Template, provider: Provider) -> dict[str, dict[str, Any]]:
    return {
        logical: function
        for logical, function in resources(template, "AWS::Lambda::Function").items()
        if function["Properties"].get("Environment", {}).get("Variables", {}).get("PROVIDER")
        == provider.name
    }


def ref(value: Any) -> str:
    """The logical id a Ref or Fn::GetAtt points at."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def statements_of(template: Template, function: dict[str, Any]) -> list[dict[str, Any]]:
    role = ref(function["Properties"]["Role"])
    return [
        statement
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: dict[str, Any]) -> set[str]:
    found = statement["Action"]
    return {found} if isinstance(found, str) else set(found)


def test_the_fictional_providers_come_from_the_environment_alone(with_fictional: None) -> None:
    assert registry.providers() == EVERY_PROVIDER
    names = [p.name for p in EVERY_PROVIDER]
    assert len(set(names)) == len(names)
    assert {type(p.ingress) for p in acme.PROVIDERS} == {Webhook, Poll, Queue}


@pytest.mark.parametrize("provider", EVERY_PROVIDER, ids=lambda p: p.name)
def test_every_provider_has_one_function_with_its_ingress(
    synthesised: Template, provider: Provider
) -> None:
    functions = ingress_functions(synthesised, provider)
    # A webhook delivered only once (WooCommerce) also has its repair poller.
    assert len(functions) == (2 if provider.repair is not None else 1)
    for logical, function in functions.items():
        if function["Properties"]["Handler"] == POLL_HANDLER and provider.repair is not None:
            assert_polled(synthesised, logical, provider.repair)
        else:
            assert_ingress(synthesised, provider, logical, function)


def assert_polled(synthesised: Template, logical: str, schedule: Poll) -> None:
    (rule,) = (
        r["Properties"]
        for r in resources(synthesised, "AWS::Events::Rule").values()
        if any(ref(t["Arn"]) == logical for t in r["Properties"].get("Targets", []))
    )
    assert rule["ScheduleExpression"] == f"rate({schedule.every_minutes} minutes)"
    (target,) = rule["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    dead_letters = ref(target["DeadLetterConfig"]["Arn"])
    assert synthesised["Resources"][dead_letters]["Type"] == "AWS::SQS::Queue"


def assert_ingress(
    synthesised: Template, provider: Provider, logical: str, function: dict[str, Any]
) -> None:
    handler = function["Properties"]["Handler"]
    if isinstance(provider.ingress, Webhook):
        assert handler == WEBHOOK_HANDLER
        routes = {
            r["Properties"]["RouteKey"]: ref_of_route(synthesised, r)
            for r in resources(synthesised, "AWS::ApiGatewayV2::Route").values()
        }
        assert routes[f"POST {provider.path}"] == logical
    elif isinstance(provider.ingress, Poll):
        assert handler == POLL_HANDLER
        assert_polled(synthesised, logical, provider.ingress)
    else:
        assert isinstance(provider.ingress, Queue)
        assert handler == QUEUE_HANDLER
        (mapping,) = (
            m["Properties"]
            for m in resources(synthesised, "AWS::Lambda::EventSourceMapping").values()
            if ref(m["Properties"]["FunctionName"]) == logical
        )
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        queue = synthesised["Resources"][ref(mapping["EventSourceArn"])]["Properties"]
        assert queue["SqsManagedSseEnabled"] is True
        redrive = queue["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == provider.ingress.max_receive_count
        dead_letters = ref(redrive["deadLetterTargetArn"])
        assert synthesised["Resources"][dead_letters]["Type"] == "AWS::SQS::Queue"
        assert queue_policy_allows(synthesised, ref(mapping["EventSourceArn"]), provider)


def ref_of_route(template: Template, route: dict[str, Any]) -> str:
    """The logical id of the function a route's integration invokes."""
    integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
    uri = template["Resources"][integration_id]["Properties"]["IntegrationUri"]
    return ref(uri)


def queue_policy_allows(template: Template, queue: str, provider: Provider) -> bool:
    """SSL only, and SendMessage for exactly the provider's sender accounts."""
    assert isinstance(provider.ingress, Queue)
    (policy,) = (
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue} in p["Properties"]["Queues"]
    )
    denies_plain_http = any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy
    )
    senders = {
        json.dumps(s["Principal"])
        for s in policy
        if s["Effect"] == "Allow" and "sqs:SendMessage" in actions_of(s)
    }
    return (
        denies_plain_http
        and len(senders) == len(provider.ingress.sender_accounts)
        and all(
            any(account in sender for sender in senders)
            for account in provider.ingress.sender_accounts
        )
    )


@pytest.mark.parametrize("provider", EVERY_PROVIDER, ids=lambda p: p.name)
def test_every_provider_has_its_secret_and_a_role_limited_to_its_own_items(
    synthesised: Template, provider: Provider
) -> None:
    (secret,) = (
        logical
        for logical, s in resources(synthesised, "AWS::SecretsManager::Secret").items()
        if s["Properties"]["Name"] == f"{STACK}/{provider.name}"
    )
    for function in ingress_functions(synthesised, provider).values():
        assert_limited_to_its_own(synthesised, provider, function, secret)


def assert_limited_to_its_own(
    synthesised: Template, provider: Provider, function: dict[str, Any], secret: str
) -> None:
    owned = {f"INBOX#{provider.name}#*"}
    if provider.poll is not None:
        owned.add(f"CURSOR#{provider.name}")
    for statement in statements_of(synthesised, function):
        actions = actions_of(statement)
        assert not {a for a in actions if a.split(":")[0] in {"states", "events", "lambda"}}
        if any(a.startswith("dynamodb:") for a in actions):
            assert actions <= {"dynamodb:PutItem", "dynamodb:GetItem"}, actions
            keys = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            assert set(keys) <= owned, keys
            if "dynamodb:GetItem" in actions:  # reads only where the poller resumes
                assert keys == [f"CURSOR#{provider.name}"]
        if any(a.startswith("secretsmanager:") for a in actions):
            assert ref(statement["Resource"]) == secret  # its own secret, no other
        if any(a.startswith("s3:") for a in actions):
            assert actions == {"s3:PutObject"}
    variables = function["Properties"]["Environment"]["Variables"]
    if isinstance(provider.ingress, Queue) and not provider.ingress.fetch:
        assert "SECRET_ID" not in variables  # the queue's policy is the authenticity
    else:
        # A queue that fetches what its notifications name reads the provider's API with it.
        assert ref(variables["SECRET_ID"]) == secret


@pytest.mark.parametrize("provider", EVERY_PROVIDER, ids=lambda p: p.name)
def test_every_provider_function_and_queue_has_an_alarm(
    synthesised: Template, provider: Provider
) -> None:
    alarms = resources(synthesised, "AWS::CloudWatch::Alarm").values()
    watched = {
        (alarm["Properties"]["MetricName"], ref(dimension["Value"]))
        for alarm in alarms
        for dimension in alarm["Properties"].get("Dimensions", [])
    }
    for function in ingress_functions(synthesised, provider):
        assert ("Errors", function) in watched
    queues = {
        logical
        for logical, queue in resources(synthesised, "AWS::SQS::Queue").items()
        if provider.construct_name in logical
    }
    for queue in queues:  # a poll's DLQ; a queue, its DLQ; a channel's push queue, its DLQ
        assert {m for m, watched_queue in watched if watched_queue == queue}, queue
    expected = {Webhook: 0, Poll: 1, Queue: 2}[type(provider.ingress)]
    expected += 1 if provider.repair is not None else 0
    expected += 2 if provider.channel_client else 0
    assert len(queues) == expected


def test_nothing_in_the_template_serves_a_provider_the_registry_does_not_list(
    synthesised: Template,
) -> None:
    names = {p.name for p in EVERY_PROVIDER}
    served = {
        f["Properties"]["Environment"]["Variables"]["PROVIDER"]
        for f in resources(synthesised, "AWS::Lambda::Function").values()
        if "PROVIDER" in f["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert served == names
    webhook_routes = {
        r["Properties"]["RouteKey"]
        for r in resources(synthesised, "AWS::ApiGatewayV2::Route").values()
        if " /webhooks/" in r["Properties"]["RouteKey"]
    }
    assert webhook_routes == {f"POST {p.path}" for p in EVERY_PROVIDER if p.path}


def test_the_readme_provider_table_is_the_registrys() -> None:
    readme = README.read_text()
    assert registry.with_table(readme, registry.markdown_table()) == readme, (
        "README.md's provider table is stale: run `python -m shared.registry --write-readme`"
    )


def test_the_admin_cli_takes_every_provider_as_a_source(with_fictional: None) -> None:
    from infra.admin import _parser

    for provider in EVERY_PROVIDER:
        args = _parser().parse_args(
            ["show-webhook", "--stack", STACK, "--source", provider.name, "--event-id", "e"]
        )
        assert args.source == provider.name
    with pytest.raises(SystemExit):
        _parser().parse_args(
            ["show-webhook", "--stack", STACK, "--source", "nobody", "--event-id", "e"]
        )


def test_the_template_with_the_fictional_providers_passes_cfn_lint(synthesised: Template) -> None:
    from cfnlint.api import ManualArgs, lint

    matches = lint(
        json.dumps(synthesised),
        config=ManualArgs(regions=["eu-central-1"], ignore_checks=["W3005"]),  # CDK's DependsOn
    )
    assert [str(m) for m in matches] == []
