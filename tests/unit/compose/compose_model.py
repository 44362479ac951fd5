"""The Compose files and Dockerfiles read the way Docker would, without Docker: YAML, `${VAR}` interpolation
from `.env`, the merge of the cluster override, Dockerfile instructions and `.dockerignore`. Only as much
of each as the tests under tests/unit/compose need."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath

import yaml
from dotenv import dotenv_values

from config.security import password_variables

ROOT = Path(__file__).resolve().parents[3]
BASE = ROOT / "docker-compose.yml"
CLUSTER = ROOT / "docker-compose.cluster.yml"
CONTROL_CENTER = ROOT / "docker-compose.control-center.yml"
COMPOSE_FILES = (BASE, CLUSTER, CONTROL_CENTER)
# The combinations of files docs/compose.md tells users to run.
STACKS = {"single-node": (BASE,), "cluster": (BASE, CLUSTER), "control-center": (BASE, CONTROL_CENTER)}
ENV_FILE = ROOT / ".env"
SETTINGS_FILE = ROOT / "config" / "settings.py"

# $$ (a literal $), ${NAME}, ${NAME:-default} / ${NAME-default} / ${NAME:?err}, or $NAME.
_VARIABLE = re.compile(r"\$\$|\$\{(?P<braced>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)")


@dataclass(frozen=True)
class Reference:
    name: str
    has_default: bool
    required: bool = False  # ${NAME:?message}: Compose stops with the message when NAME is unset or empty
    message: str = ""


def references(text: str) -> list[Reference]:
    """Every variable a Compose file interpolates."""
    found = []
    for match in _VARIABLE.finditer(text):
        name = match.group("braced") or match.group("bare")
        if name:
            op = match.group("op") or ""
            found.append(Reference(name, op.endswith("-"), op == ":?", match.group("arg") or ""))
    return found


@cache
def env_file() -> dict[str, str]:
    return {k: v for k, v in dotenv_values(ENV_FILE).items() if v is not None}


# What `python3 main.py secrets` writes into .local/secrets.env, with made-up values: Compose reads that file
# next to .env (COMPOSE_ENV_FILES), and the files require every password from it.
SECRETS = {name: f"made-up-{name.lower().replace('_', '-')}" for name in password_variables()}


def compose_env() -> dict[str, str]:
    """The variables Compose interpolates from: .env and the secrets file."""
    return {**env_file(), **SECRETS}


@cache
def versions_block() -> dict[str, str]:
    """The pins of the Versions block that ends `.env`."""
    text = ENV_FILE.read_text()
    start = text.index("\n# Versions:")
    return {
        key: value
        for key, _, value in (line.partition("=") for line in text[start:].splitlines())
        if value and not key.startswith("#")
    }


def interpolate(value, env: dict[str, str]):
    """Compose's interpolation, applied to every string of a loaded file."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op") or "", match.group("arg") or ""
        current = env.get(name)
        if op.endswith("-") and (current is None or (op == ":-" and current == "")):
            return arg
        if current is None:
            raise KeyError(f"${{{name}}} is set neither in .env nor with a default")
        return current

    return _VARIABLE.sub(substitute, value)


@cache
def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def raw(path: Path) -> dict:
    """The file as YAML, anchors and merge keys resolved, variables not yet interpolated."""
    return _raw(path)


def load(path: Path) -> dict:
    return interpolate(raw(path), compose_env())


_MERGED_LISTS = {"ports", "profiles", "expose"}


def merge(base, override, key: str | None = None):
    """Compose's merge of an override file: mappings merge, `volumes` merge by target, a few lists add up,
    other values are replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for k, v in override.items():
            merged[k] = merge(base[k], v, k) if k in base else v
        return merged
    if isinstance(base, list) and isinstance(override, list):
        if key in _MERGED_LISTS:
            return base + [item for item in override if item not in base]
        if key == "volumes":
            by_target = {bind_mount(v).target: v for v in base}
            by_target.update({bind_mount(v).target: v for v in override})
            return list(by_target.values())
    return override


def stack(files: tuple[Path, ...]) -> dict:
    """The files layered in order, as `docker compose -f a -f b` does."""
    project = load(files[0])
    for override in files[1:]:
        project = merge(project, load(override))
    return project


def cluster() -> dict:
    """docker-compose.yml with docker-compose.cluster.yml layered over it."""
    return stack(STACKS["cluster"])


def projects() -> dict[str, dict]:
    return {name: stack(files) for name, files in STACKS.items()}


def active_services(project: dict, profiles: tuple[str, ...] = ()) -> dict[str, dict]:
    """The services `up` starts with these profiles enabled."""
    return {
        name: svc
        for name, svc in project["services"].items()
        if not svc.get("profiles") or set(svc["profiles"]) & set(profiles)
    }


def one_shot_services(project: dict) -> set[str]:
    """Services others wait for to *complete*: setup steps, not long-running services."""
    return {
        target
        for svc in project["services"].values()
        for target, dep in (svc.get("depends_on") or {}).items()
        if dep.get("condition") == "service_completed_successfully"
    }


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source.startswith(("./", "/", "../"))


def bind_mount(spec: str) -> Mount:
    parts = spec.split(":")
    return Mount(parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(","))


def mounts(service: dict) -> list[Mount]:
    return [bind_mount(v) for v in service.get("volumes", [])]


@dataclass(frozen=True)
class Port:
    host_ip: str
    host_ports: range
    container_port: int


def ports(service: dict) -> list[Port]:
    found = []
    for spec in service.get("ports", []):
        host_ip, host, container = spec.split(":")
        first, _, last = host.partition("-")
        found.append(Port(host_ip, range(int(first), int(last or first) + 1), int(container)))
    return found


def memory_bytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)b?", str(size).lower()).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def settings_names() -> set[str]:
    """Every environment variable config/settings.py reads."""
    text = SETTINGS_FILE.read_text()
    return set(re.findall(r'_(?:int|str|path)\(\s*"(\w+)"', text)) | set(re.findall(r'os\.environ\.get\("(\w+)"', text))


# Dockerfiles -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    args: str


def dockerfile_instructions(path: Path) -> list[Instruction]:
    """Instructions in order, continuation lines joined and comments dropped; `stage` counts FROMs."""
    logical, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    instructions, stage = [], -1
    for text in logical:
        keyword, _, args = text.strip().partition(" ")
        if keyword.upper() == "FROM":
            stage += 1
        instructions.append(Instruction(stage, keyword.upper(), " ".join(args.split())))
    return instructions


def arg_defaults(path: Path) -> dict[str, str]:
    defaults = {}
    for ins in dockerfile_instructions(path):
        if ins.keyword == "ARG" and "=" in ins.args:
            name, _, value = ins.args.partition("=")
            defaults[name] = value
    return defaults


def base_images(path: Path, build_args: dict[str, str] | None = None) -> list[str]:
    """Each FROM's image, ARGs resolved (build args over ARG defaults); references to earlier stages out."""
    args = {**arg_defaults(path), **(build_args or {})}
    stages, images = set(), []
    for ins in dockerfile_instructions(path):
        if ins.keyword != "FROM":
            continue
        words = ins.args.split()
        image = interpolate(words[0], args)
        if image not in stages:
            images.append(image)
        if len(words) == 3 and words[1].upper() == "AS":
            stages.add(words[2])
    return images


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    destination: PurePosixPath  # absolute, in the image
    into_directory: bool  # `COPY a b dir/`: the sources keep their names under the destination


def context_copies(path: Path) -> list[Copy]:
    """The COPY instructions of the final stage that take files from the build context."""
    instructions = dockerfile_instructions(path)
    final = max(ins.stage for ins in instructions)
    workdir, copies = PurePosixPath("/"), []
    for ins in instructions:
        if ins.stage != final:
            continue
        if ins.keyword == "WORKDIR":
            workdir = workdir / ins.args
        elif ins.keyword == "COPY" and "--from" not in ins.args:
            *sources, destination = [w for w in ins.args.split() if not w.startswith("--")]
            into_directory = destination.endswith(("/", ".")) or len(sources) > 1
            copies.append(Copy(tuple(sources), workdir / destination, into_directory))
    return copies


def all_context_sources(path: Path) -> list[str]:
    """Every build-context path any stage COPYs."""
    sources = []
    for ins in dockerfile_instructions(path):
        if ins.keyword in ("COPY", "ADD") and "--from" not in ins.args:
            sources += [w for w in ins.args.split() if not w.startswith("--")][:-1]
    return sources


def final_workdir(path: Path) -> PurePosixPath:
    instructions = dockerfile_instructions(path)
    final = max(ins.stage for ins in instructions)
    workdir = PurePosixPath("/")
    for ins in instructions:
        if ins.stage == final and ins.keyword == "WORKDIR":
            workdir = workdir / ins.args
    return workdir


def image_files(dockerfile: Path, context: Path = ROOT) -> dict[PurePosixPath, Path]:
    """Where each build-context file lands in the image: image path -> repository path."""
    files = {}
    for copy in context_copies(dockerfile):
        for source in copy.sources:
            local = context / source.rstrip("/")
            if local.is_dir():
                for file in local.rglob("*"):
                    if file.is_file() and not dockerignored(file.relative_to(context).as_posix()):
                        files[copy.destination / file.relative_to(local).as_posix()] = file
            else:
                files[copy.destination / local.name if copy.into_directory else copy.destination] = local
    return files


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def dockerignored(relative: str) -> bool:
    """Whether a context path is left out of the build context (the last matching pattern wins; a pattern
    that matches a directory leaves out everything under it)."""
    ignored = False
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
        for prefix in prefixes:
            names = [prefix, prefix.split("/")[-1]] if pattern.startswith("**/") else [prefix]
            if any(fnmatch.fnmatchcase(name, c) for name in names for c in candidates):
                ignored = not negate
    return ignored
