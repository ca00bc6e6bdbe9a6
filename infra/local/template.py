"""CloudFormation intrinsics, resolved against what the local deployer created.

Covers what CDK emits for this stack: Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select,
Fn::Split, Fn::If with Conditions (Fn::Equals/Not/And/Or) and the pseudo parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class Physical:
    """A created resource: what Ref returns and its Fn::GetAtt attributes."""

    ref: str
    attributes: dict[str, Any] = field(default_factory=dict)


class Resolver:
    def __init__(
        self,
        template: dict[str, Any],
        *,
        region: str,
        account: str,
        stack_name: str,
        ensure: Callable[[str], Physical],
    ) -> None:
        self._template = template
        self._ensure = ensure
        self._pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/local",
            "AWS::NoValue": NO_VALUE,
        }

    def resolve(self, value: Any) -> Any:  # noqa: PLR0911 - one branch per intrinsic
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Fn::GetAtt":
                logical, attribute = (
                    argument.split(".", 1) if isinstance(argument, str) else argument
                )
                return self.get_att(logical, attribute)
            if name == "Fn::Join":
                separator, parts = argument
                return separator.join(str(part) for part in self.resolve(parts))
            if name == "Fn::Sub":
                return self._sub(argument)
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if name == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if name == "Fn::If":
                condition, when_true, when_false = argument
                return self.resolve(when_true if self.condition(condition) else when_false)
            if name == "Fn::GetAZs":
                region = self._pseudo["AWS::Region"]
                return [f"{region}a", f"{region}b", f"{region}c"]
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name in self._pseudo:
            return self._pseudo[name]
        parameters = self._template.get("Parameters", {})
        if name in parameters:
            return parameters[name].get("Default")
        return self._ensure(name).ref

    def get_att(self, logical: str, attribute: str) -> Any:
        physical = self._ensure(logical)
        if attribute not in physical.attributes:
            raise KeyError(f"{logical} has no attribute {attribute} in the local stack")
        return physical.attributes[attribute]

    def condition(self, name: str) -> bool:
        return bool(self._condition(self._template.get("Conditions", {})[name]))

    def _condition(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            ((name, argument),) = expression.items()
            if name == "Fn::Equals":
                left, right = (self._condition(a) for a in argument)
                return left == right
            if name == "Fn::Not":
                return not self._condition(argument[0])
            if name == "Fn::And":
                return all(self._condition(a) for a in argument)
            if name == "Fn::Or":
                return any(self._condition(a) for a in argument)
            if name == "Condition":
                return self.condition(argument)
        return self.resolve(expression)

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return str(self.get_att(logical, attribute))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical: resource
        for logical, resource in template.get("Resources", {}).items()
        if resource["Type"] == resource_type
    }
