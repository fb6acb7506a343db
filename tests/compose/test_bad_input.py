"""Bad and hostile compose input: a clear error naming file, service and field; nothing else happens."""

from __future__ import annotations

import pytest

from compose_loader import load_project, validate_model
from interceptor.errors import ComposeError


def _load(tmp_path, text, env=None):
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return load_project([path], environ=env or {})


def test_alias_bomb_is_refused(tmp_path):
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = f"*a{i-1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    text = "x-bomb:\n" + "\n".join("  " + line for line in lines) + "\nservices:\n  a:\n    image: x\n"
    with pytest.raises(ComposeError) as info:
        _load(tmp_path, text)
    assert "alias" in info.value.message


def test_huge_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "compose.yaml"
    with open(path, "w") as fh:
        fh.write("services:\n  a:\n    image: x\n# " + "y" * (5 << 20) + "\n")
    with pytest.raises(ComposeError) as info:
        load_project([path], environ={})
    assert "MiB" in info.value.message


def test_required_variable_names_the_field_and_the_variable(tmp_path):
    with pytest.raises(ComposeError) as info:
        _load(tmp_path, "services:\n  web:\n    image: ${IMAGE:?set IMAGE to the portal image}\n")
    assert "services.web.image" in info.value.message
    assert "IMAGE" in info.value.message and "set IMAGE to the portal image" in info.value.message
    assert "IMAGE" in info.value.hint


@pytest.mark.parametrize("text, expected", [
    ("services:\n  web:\n    image: x\n    ports: ['80:80:80:80']\n", "services.web.ports[0]"),
    ("services:\n  'bad name!':\n    image: x\n", "service name"),
    ("- just\n- a list\n", "top level must be a mapping"),
    ("services:\n  web:\n    image: x\n    depends_on: [db]\n", "services.web.depends_on"),
    ("services:\n  web:\n    image: x\n    volumes: ['data:/data']\n", "named volume 'data'"),
    ("services:\n  web:\n    image: x\n   bad: indent\n", "not valid YAML"),
    ("services:\n  web:\n    build: .\n    image: x\n    command: 'unterminated \"quote'\n", "services.web.command"),
    ("servces:\n  web:\n    image: x\n", "unknown top-level key 'servces'"),
    ("services:\n  web:\n    image: x\n    environment: {A: [1]}\n", "services.web.environment.A"),
])
def test_mistakes_are_named(tmp_path, text, expected):
    with pytest.raises(ComposeError) as info:
        _load(tmp_path, text)
    assert expected in info.value.message


@pytest.mark.parametrize("model, expected", [
    ({"name": "x", "services": {}}, "no services"),
    ({"name": "x", "services": {"../etc": {"image": "x"}}}, "service name"),
    ({"name": "X Y", "services": {"a": {"image": "x"}}}, "name"),
    ({"name": "x", "services": {"a": {"image": "x", "ports": [{"target": 99999}]}}}, "services.a.ports[0].target"),
    ({"name": "x", "services": {"a": {"image": "x", "volumes": [{"type": "bind", "source": "/x", "target": "rel"}]}}},
     "services.a.volumes[0].target"),
    ({"name": "x", "services": {"a": {"image": ["not", "a", "string"]}}}, "services.a.image"),
    ({"name": "x", "services": {f"s{i}": {"image": "x"} for i in range(300)}}, "more than"),
    ("not an object", "must be an object"),
])
def test_the_gateway_refuses_a_hostile_model(model, expected):
    with pytest.raises(ComposeError) as info:
        validate_model(model)
    assert expected in info.value.message


def test_obsolete_version_is_a_warning_not_an_error(tmp_path):
    project = _load(tmp_path, "version: '3'\nservices:\n  a:\n    image: x\n")
    assert any("version" in w and "obsolete" in w for w in project.warnings)
