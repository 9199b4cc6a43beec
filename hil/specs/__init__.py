"""Safety requirements as data: the model, the metric catalogue and the validating loader."""

from hil.specs.loader import Problem, SpecError, load_requirements, spec_files
from hil.specs.model import Bound, Requirement

__all__ = ["Bound", "Problem", "Requirement", "SpecError", "load_requirements", "spec_files"]
