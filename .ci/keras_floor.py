"""Prints the oldest Keras that pyproject.toml allows: the version in its single ``keras>=`` requirement."""

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from packaging.requirements import Requirement

with open("pyproject.toml", "rb") as file:
    requirements = [Requirement(text) for text in tomllib.load(file)["project"]["dependencies"]]
floors = [spec.version for req in requirements if req.name == "keras" for spec in req.specifier if spec.operator == ">="]
if len(floors) != 1:
    raise SystemExit(f"pyproject.toml gives keras no single '>=' floor: {[str(req) for req in requirements]}")
print(floors[0])
