"""The requirement file's JSON Schema: the file's own frame (its keys, a requirement's, a bound's; below) with what the
methods define (hil.specs.methods): the method names, the case schema of each method, and every case parameter with
its type and range. `python -m hil.specs.requirement_schema > hil/specs/requirement.schema.json` writes the shipped
file the loader validates with; a unit test keeps the two equal."""

import copy
import json
from typing import Any

from hil.specs.methods import METHODS, Case
from hil.specs.model import OriginKind

# A bound's `origin:` where its limit is written as a number (a claim's limit has the claim as its origin).
ORIGIN = {
    "enum": [kind.value for kind in OriginKind if kind is not OriginKind.CLAIM],
    "description": (
        "where a limit written as a number comes from: a standard's clause, a regulation, or the project's stated risk "
        "judgement, said in `source`; a limit that is the device's claim ({claim: name}) has the claim as its origin"
    ),
}
FRAME: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://hil.invalid/schemas/requirement-file.json",
    "title": "Insulin-pump safety requirement file",
    "description": (
        "One safety area: a list of requirements, each with its cases (test parameters) and acceptance metrics (bounds "
        "with units and sources)."
    ),
    "type": "object",
    "required": ["area", "requirements"],
    "additionalProperties": False,
    "properties": {
        "area": {"type": "string", "minLength": 1, "description": "Safety area; becomes the Allure epic."},
        "schema_version": {"const": 1},
        "min_tur": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": (
                "test uncertainty ratio a rig must reach: for a two-sided bound, (max - min) / 2 over the expanded "
                "uncertainty; below it the measurement is INCONCLUSIVE, never PASS"
            ),
            "maximum": 100,
        },
        "record_cross_check": {
            "type": "object",
            "required": ["min", "max", "origin", "source"],
            "additionalProperties": False,
            "description": (
                "the disagreement (record_disagreement, %) between the weighed amount and the pump's own record beyond "
                "which the pump recorded delivery the balance did not weigh: a bound added to every requirement of this"
                " file whose method computes record_disagreement and that does not bound it itself; a gross check, "
                "judged by its guard band alone (not min_tur)"
            ),
            "properties": {
                "min": {"type": "number", "minimum": -100, "maximum": 0},
                "max": {"type": "number", "minimum": 0, "maximum": 10000},
                "source": {"type": "string", "minLength": 1},
                "origin": ORIGIN,
            },
        },
        "requirements": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/requirement"}, "maxItems": 1000},
    },
    "$defs": {
        "requirement": {
            "type": "object",
            "required": ["id", "title", "statement", "hazard", "source", "severity", "method", "cases", "acceptance"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "string", "pattern": "^[A-Z]{2,}(-[A-Z0-9]+)+$"},
                "title": {"type": "string", "minLength": 1},
                "statement": {"type": "string", "minLength": 1, "description": "The shall-sentence."},
                "hazard": {"type": "string", "minLength": 1},
                "source": {"type": "string", "minLength": 1},
                "severity": {"enum": ["blocker", "critical", "normal", "minor", "trivial"]},
                "method": {
                    "enum": []  # filled with the methods' names
                },
                "function": {
                    "type": "string",
                    "pattern": "^[a-z][A-Za-z0-9_]{0,99}$",
                    "description": (
                        "the function of the device the requirement verifies, a claim of the device (function: true); "
                        "not applicable to a device that does not claim it"
                    ),
                },
                "cases": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1000,
                    "items": {"type": "object"},
                    "description": "each case holds exactly the parameters its method reads (see case_<method>)",
                },
                "acceptance": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/bound"}},
                "units": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["count", "source"],
                    "description": (
                        "how many pump units the requirement is verified on and how they are judged together (hil "
                        "verify --places, docs/lab.md); absent: one unit, judged by itself"
                    ),
                    "properties": {
                        "count": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 100,
                            "description": (
                                "units (places of a --places run) the requirement needs; fewer measured is INCONCLUSIVE"
                                " across units, never PASS"
                            ),
                        },
                        "judged": {
                            "enum": ["each", "set"],
                            "description": (
                                "each (default): every unit passes its own test; set: for every bound, the mean across "
                                "units with its expanded uncertainty (GUM: the units' spread, Student t at 95 %, and "
                                "each unit's own U) lies inside the bound"
                            ),
                        },
                        "source": {
                            "type": "string",
                            "minLength": 1,
                            "description": "where the number of units comes from",
                        },
                    },
                },
            },
        },
        "bound": {
            "type": "object",
            "required": ["metric", "unit"],
            "additionalProperties": False,
            "properties": {
                "metric": {"type": "string"},
                "unit": {"type": "string", "minLength": 1},
                "window_h": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
                "window_min": {"type": "number", "exclusiveMinimum": 0, "maximum": 10080},
                "band_pct": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                "min": {"type": "number"},
                "max": {"type": "number"},
                "origin": ORIGIN,
                "source": {
                    "type": "string",
                    "minLength": 1,
                    "description": "what the limit means and where its number comes from (required with `origin`)",
                },
            },
            "anyOf": [{"required": ["min"]}, {"required": ["max"]}],
        },
    },
}


# What a case model's own schema holds: the keys the generator writes anew, and the rules it carries as they are.
_MODEL_KEYS = {"type", "title", "description", "properties", "required", "additionalProperties"}
_CASE_RULES = ("if", "then", "dependentRequired")


def case_schema(case: type[Case]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The schema of a method's cases, each parameter a reference into the catalogue; and the catalogue's entries
    (parameter → its type and range) the method brings."""
    generated = case.model_json_schema()
    other = set(generated) - _MODEL_KEYS - set(_CASE_RULES)
    if other:  # a rule the generator would leave out, so that the file would take what the model refuses
        raise ValueError(
            f"{case.__name__}: its schema has {', '.join(sorted(other))}, which the generator does not carry"
        )
    parameters = {name: _plain(case, name, schema) for name, schema in generated["properties"].items()}
    schema: dict[str, Any] = {
        "type": "object",
        "description": " ".join(generated.get("description", f"A case of method {case.method}.").split()),
        "required": generated.get("required", []),
        "additionalProperties": False,
        "properties": {name: {"$ref": f"#/$defs/case_value/properties/{name}"} for name in parameters},
    }
    schema |= {key: generated[key] for key in _CASE_RULES if key in generated}
    return schema, parameters


def _plain(case: type[Case], name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema as a requirement file is read: no titles or defaults of the models; an optional
    parameter is left out, never written null; a choice of names is the names (no type beside them)."""
    schema = {k: v for k, v in schema.items() if k not in ("title", "default")}
    if "anyOf" in schema:
        present = [option for option in schema.pop("anyOf") if option != {"type": "null"}]
        if len(present) != 1:
            raise ValueError(f"{case.__name__}.{name}: one type (or it and None), not {len(present)}")
        schema = present[0] | schema
    if "enum" in schema:
        schema.pop("type", None)
    return schema


def generate() -> dict[str, Any]:
    schema = copy.deepcopy(FRAME)
    requirement = schema["$defs"]["requirement"]
    requirement["properties"]["method"]["enum"] = list(METHODS)
    catalogue: dict[str, Any] = {}
    cases = {}
    for method, case in METHODS.items():
        cases[f"case_{method}"], parameters = case_schema(case)
        for name, parameter in parameters.items():
            if catalogue.setdefault(name, parameter) != parameter:
                raise ValueError(f"{case.__name__}.{name}: not the type every other method gives it")
    requirement["allOf"] = [
        {
            "if": {"properties": {"method": {"const": method}}, "required": ["method"]},
            "then": {"properties": {"cases": {"items": {"$ref": f"#/$defs/case_{method}"}}}},
        }
        for method in METHODS
    ]
    schema["$defs"]["case_value"] = {
        "description": "every case parameter a method may read, with its type and physical range",
        "type": "object",
        "properties": catalogue,
    }
    schema["$defs"] |= cases
    return schema


if __name__ == "__main__":
    print(json.dumps(generate(), indent=1, ensure_ascii=False))
