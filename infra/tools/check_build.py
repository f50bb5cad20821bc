"""Check a `sam build` output against the sources: `python infra/tools/check_build.py BUILD_DIR ARCH`.

What it catches before a deployment does: a function folder missing from the build, a layer that lost
part of the agent_datastore package (it is a symlink into shared/), a requirement that pip did not
install, and a compiled extension built for the wrong architecture (arm64 and x86_64 wheels differ).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PACKAGE = ROOT / "shared" / "agent_datastore"
LAYER = "CoreLayer"
# ELF e_machine of each Lambda architecture.
MACHINES = {"arm64": 0xB7, "x86_64": 0x3E}


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _tag)


def sources() -> dict[str, Path]:
    """Each function and the layer of template.yaml by logical id, with its source folder."""
    resources = yaml.load(TEMPLATE.read_text(), Loader=_Loader)["Resources"]
    found = {}
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            found[name] = ROOT / resource["Properties"]["CodeUri"]
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            found[name] = ROOT / resource["Properties"]["ContentUri"]
    return found


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _requirements(source: Path) -> list[str]:
    path = source / "requirements.txt"
    if not path.exists():
        return []
    names = []
    for line in path.read_text().splitlines():
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
        if match:
            names.append(match.group(1))
    return names


def _installed(folder: Path) -> set[str]:
    return {_normalized(path.name.split("-", 1)[0]) for path in folder.glob("*.dist-info")}


def _machine(path: Path) -> int | None:
    """The ELF e_machine of a file, None when it is not an ELF file."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def check_build(build: Path, arch: str) -> list[str]:
    """Every problem found in `build` (empty: it holds what template.yaml asks for, for `arch`)."""
    problems = []
    for name, source in sources().items():
        built = build / name
        if not built.is_dir():
            problems.append(f"{name}: not built (no {built})")
            continue
        site = built / "python" if name == LAYER else built
        for path in sorted(source.iterdir()):
            if path.is_file() and not path.is_symlink():
                copy = site / path.name
                if not copy.is_file() or copy.read_bytes() != path.read_bytes():
                    problems.append(f"{name}: {path.name} missing or different from {path}")
        missing = [req for req in _requirements(source) if _normalized(req) not in _installed(site)]
        if missing:
            problems.append(f"{name}: requirements not installed: {', '.join(missing)}")
        for path in built.rglob("*"):
            if path.is_file() and not path.is_symlink() and (path.suffix == ".so" or ".so." in path.name):
                machine = _machine(path)
                if machine is not None and machine != MACHINES[arch]:
                    problems.append(
                        f"{name}: {path.relative_to(built)} is not built for {arch} (e_machine {machine:#x})"
                    )
    layer_package = build / LAYER / "python" / "agent_datastore"
    expected, actual = _files(PACKAGE), _files(layer_package) if layer_package.is_dir() else {}
    for path in sorted(expected.keys() - actual.keys()):
        problems.append(f"{LAYER}: agent_datastore/{path} missing")
    for path in sorted(actual.keys() - expected.keys()):
        problems.append(f"{LAYER}: agent_datastore/{path} is not in shared/agent_datastore")
    for path in sorted(expected.keys() & actual.keys()):
        if expected[path] != actual[path]:
            problems.append(f"{LAYER}: agent_datastore/{path} differs from shared/agent_datastore")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in MACHINES:
        print(__doc__, file=sys.stderr)
        return 2
    build, arch = Path(argv[0]), argv[1]
    problems = check_build(build, arch)
    for problem in problems:
        print(f"check_build: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_build: {build} holds every function and the whole layer, built for {arch}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
