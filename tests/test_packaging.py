"""The three descriptions of the environment agree: pyproject.toml (ranges), constraints.txt
(exact pins) and environment.yml (conda/Binder)."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def declared() -> set[str]:
    project = pyproject()["project"]
    reqs = list(project["dependencies"])
    for extra in ("book", "test", "dev"):
        reqs += project["optional-dependencies"][extra]
    return {str(Requirement(r)) for r in reqs}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {str(Requirement(line)) for line in pip_section if not line.startswith("-")}
    assert listed == declared()
    assert "-e ." in pip_section


def test_every_dependency_is_a_range_not_a_pin():
    pinned = [r for r in declared() if any(s.operator in ("==", "===") for s in Requirement(r).specifier)]
    assert not pinned, f"pin exact versions in constraints.txt, not pyproject.toml: {pinned}"


def test_constraints_pin_every_declared_dependency_inside_its_range():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    for text in declared():
        req = Requirement(text)
        if req.marker and not req.marker.evaluate({"sys_platform": "linux", "platform_machine": "x86_64"}):
            continue
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{req.name} is not pinned in constraints.txt (`make constraints`)"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} is outside {req.specifier}"


def test_stack_is_the_one_the_book_is_written_for():
    pins = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^tensorflow[-_]cpu==2\.21\.", pins, re.M | re.I)
    assert re.search(r"^keras==3\.", pins, re.M)
    assert re.search(r"^jupyter-book==1\.", pins, re.M)


def test_never_depends_on_tensorflow_model_optimization():
    text = (ROOT / "pyproject.toml").read_text() + (ROOT / "constraints.txt").read_text()
    assert "tensorflow-model-optimization" not in text and "tf_keras" not in text.replace("-", "_")


def test_console_command_is_declared():
    assert pyproject()["project"]["scripts"]["dlbook"] == "dlbook.cli:main"
