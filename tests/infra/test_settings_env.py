"""Each function's environment in the template is its settings model, not a second list of
strings: every variable the template sets is a field the handler reads, and every field
without a default is set (a typo either way fails here, not on the first invocation)."""

from __future__ import annotations

import importlib
from typing import Any

from infra.local.template import resources_of_type

# Set for every function by the Lambda factory and read by Powertools, not by our settings.
PLATFORM_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "STAGE"}


def test_every_function_environment_matches_its_settings_model(template: dict[str, Any]) -> None:
    checked = 0
    for logical, function in resources_of_type(template, "AWS::Lambda::Function").items():
        properties = function["Properties"]
        module_name = properties["Handler"].rpartition(".")[0]
        settings = importlib.import_module(module_name).SETTINGS
        variables = set(properties.get("Environment", {}).get("Variables", {}))
        names = settings.env_names()
        required = {
            names[field] for field, info in settings.model_fields.items() if info.is_required()
        }
        assert variables - PLATFORM_VARIABLES <= set(names.values()), (
            f"{logical} sets variables {settings.__name__} does not read: "
            f"{sorted(variables - PLATFORM_VARIABLES - set(names.values()))}"
        )
        assert required <= variables, (
            f"{logical} lacks {sorted(required - variables)} that {settings.__name__} requires"
        )
        checked += 1
    assert checked >= 6
