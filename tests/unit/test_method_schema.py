"""The requirement file's schema is generated from the methods' typed case models (hil.specs.methods): the shipped
file is what they generate, and a method's model alone decides what its cases may hold."""

import json
from importlib import resources
from typing import ClassVar

import pytest

from hil.specs import methods
from hil.specs.requirement_schema import case_schema, generate


def test_the_shipped_schema_is_the_one_the_method_models_generate():
    shipped = json.loads(resources.files("hil.specs").joinpath("requirement.schema.json").read_text(encoding="utf-8"))
    regenerate = "python -m hil.specs.requirement_schema > hil/specs/requirement.schema.json"
    assert shipped == generate(), f"regenerate: {regenerate}"


def test_every_method_has_its_case_schema_and_the_requirement_takes_its_name():
    schema = generate()
    assert schema["$defs"]["requirement"]["properties"]["method"]["enum"] == list(methods.METHODS)
    for method, case in methods.METHODS.items():
        cases = schema["$defs"][f"case_{method}"]
        assert set(cases["properties"]) == set(case.model_fields)
        assert set(cases["required"]) == {n for n, f in case.model_fields.items() if f.is_required()}


def test_a_new_method_is_a_model_and_its_parameters_join_the_catalogue_typed_as_everywhere():
    class PrimeVolume(methods.Case):
        """A case of method prime-volume: exactly the parameters its test reads."""

        method: ClassVar[str] = "prime-volume"
        bolus_U: methods.BolusU
        poll_s: methods.PollS | None = None

    schema, parameters = case_schema(PrimeVolume)
    assert schema["required"] == ["bolus_U"] and schema["additionalProperties"] is False
    catalogue = generate()["$defs"]["case_value"]["properties"]
    assert parameters == {"bolus_U": catalogue["bolus_U"], "poll_s": catalogue["poll_s"]}
    assert parameters["poll_s"] == {"type": "number", "exclusiveMinimum": 0, "maximum": 86400}  # never null


def test_a_parameter_typed_otherwise_than_every_other_method_types_it_is_refused(monkeypatch):
    class Odd(methods.Case):
        method: ClassVar[str] = "odd"
        bolus_U: int

    monkeypatch.setitem(methods.METHODS, "odd", Odd)
    with pytest.raises(ValueError, match="Odd.bolus_U: not the type every other method gives it"):
        generate()


def test_a_requirements_cases_are_its_methods_typed_models_and_one_not_applicable_keeps_its_references(tmp_path):
    from hil.specs import load_requirements

    requirements = load_requirements()
    for requirement in requirements.values():
        assert all(type(case) is methods.METHODS[requirement.method] for case in requirement.cases)
    bolus = requirements["DA-BOLUS-001"].case
    assert isinstance(bolus, methods.BolusGravimetric) and isinstance(bolus.count, int) and bolus.bolus_U > 0
    with pytest.raises(AttributeError):
        bolus.speed_U_per_min  # noqa: B018 - a parameter of another method is no parameter of this one


def test_a_rule_of_a_model_the_generator_would_not_carry_is_refused_not_dropped():
    from pydantic import ConfigDict

    class Exclusive(methods.Case):
        model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["bolus_U"]}, {"required": ["poll_s"]}]})
        method: ClassVar[str] = "exclusive"
        bolus_U: methods.BolusU | None = None
        poll_s: methods.PollS | None = None

    with pytest.raises(ValueError, match="Exclusive: its schema has oneOf"):
        case_schema(Exclusive)
