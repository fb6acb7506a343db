"""Bad and hostile compose input: a clear error naming file, service and field; nothing else happens."""

from __future__ import annotations

import pytest

from spin_gateway.compose_loader import load_project, validate_model
from spin_gateway.vocabulary.errors import ComposeError


def _load(tmp_path, text, env=None):
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return load_project([path], environ=env or {})


def _refused(tmp_path, text, env=None) -> ComposeError:
    with pytest.raises(ComposeError) as info:
        _load(tmp_path, text, env)
    assert info.value.hint, "every refusal says what to do"
    return info.value


def test_alias_bomb_is_refused(tmp_path):
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    text = "x-bomb:\n" + "\n".join("  " + line for line in lines) + "\nservices:\n  a:\n    image: x\n"
    assert "alias bomb" in _refused(tmp_path, text).message


def test_a_few_anchors_used_many_times_are_fine(tmp_path):
    services = "\n".join(f"  s{i}:\n    <<: *common\n    command: [run, '{i}']" for i in range(100))
    project = _load(tmp_path, f"x-common: &common\n  image: x\n  environment: {{A: '1'}}\nservices:\n{services}\n")
    assert len(project.model["services"]) == 100
    assert project.model["services"]["s7"]["environment"] == {"A": "1"}


def test_huge_file_is_refused_before_parsing(tmp_path):
    path = tmp_path / "compose.yaml"
    with open(path, "w") as fh:
        fh.write("services:\n  a:\n    image: x\n# " + "y" * (20 << 20) + "\n")
    with pytest.raises(ComposeError) as info:
        load_project([path], environ={})
    assert "MiB" in info.value.message and str(path) in info.value.message


def test_deep_nesting_is_refused(tmp_path):
    text = "services:\n  a:\n    image: x\nx-deep: " + "[" * 500 + "]" * 500 + "\n"
    assert "nested" in _refused(tmp_path, text).message


def test_non_utf8_bytes_are_refused(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_bytes(b"services:\n  a:\n    image: \xff\xfe\n")
    with pytest.raises(ComposeError) as info:
        load_project([path], environ={})
    assert "UTF-8" in info.value.message


def test_duplicate_keys_are_refused_with_both_lines(tmp_path):
    message = _refused(tmp_path, "services:\n  a:\n    image: x\n    image: y\n").message
    assert "line 4" in message and "line 3" in message and "'image'" in message


def test_yes_and_octal_read_as_docker_compose_reads_them(tmp_path):
    project = _load(tmp_path, "services:\n  a:\n    image: x\n    environment:\n      DEBUG: yes\n      MODE: 0755\n")
    assert project.model["services"]["a"]["environment"] == {"DEBUG": "yes", "MODE": "493"}


def test_a_date_must_be_quoted(tmp_path):
    message = _refused(tmp_path, "services:\n  a:\n    image: x\n    labels:\n      built: 2024-01-02\n").message
    assert "services.a.labels.built" in message and "date" in message


def test_required_variable_names_the_field_and_the_variable(tmp_path):
    error = _refused(tmp_path, "services:\n  web:\n    image: ${IMAGE:?set IMAGE to the portal image}\n")
    assert "services.web.image" in error.message
    assert "IMAGE" in error.message and "set IMAGE to the portal image" in error.message
    assert "IMAGE" in error.hint


def test_include_cycle_is_refused(tmp_path):
    (tmp_path / "other.yaml").write_text("include: [compose.yaml]\nservices:\n  b:\n    image: x\n")
    assert "nest deeper" in _refused(tmp_path, "include: [other.yaml]\nservices:\n  a:\n    image: x\n").message


def test_circular_extends_is_refused(tmp_path):
    text = "services:\n  a:\n    image: x\n    extends: b\n  b:\n    image: x\n    extends: a\n"
    assert "circular extends" in _refused(tmp_path, text).message


@pytest.mark.parametrize("text, expected", [
    ("services:\n  web:\n    image: x\n    ports: ['80:80:80:80']\n",
     'compose.yaml: services.web.ports[0]: "80:80:80:80" is not a valid port'),
    ("services:\n  'bad name!':\n    image: x\n", "service name 'bad name!' is not valid"),
    ("- just\n- a list\n", "top level must be a mapping"),
    ("services:\n  web:\n    image: x\n    depends_on: [db]\n", "services.web.depends_on: service 'db' is not defined"),
    ("services:\n  web:\n    image: x\n    volumes: ['data:/data']\n", "services.web.volumes[0]: named volume 'data'"),
    ("services:\n  web:\n    image: x\n   bad: indent\n", "not valid YAML"),
    ("services:\n  web:\n    image: x\n    command: 'unterminated \"quote'\n", "services.web.command"),
    ("servces:\n  web:\n    image: x\n", "unknown top-level key 'servces'"),
    ("services:\n  web:\n    image: x\n    environment: {A: [1]}\n", "services.web.environment.A"),
    ("services:\n  web:\n    image: x\n    imagee: y\n", "services.web: 'imagee' is not a compose key"),
    ("services:\n  web:\n    image: [x]\n", "services.web.image"),
    ("services:\n  web:\n    image: x\n    healthcheck: {interval: 10}\n", "services.web.healthcheck.interval"),
    ("services:\n  web:\n    image: x\n    environment: {1: one}\n", "services.web.environment: the key 1 is not a string"),
    ("services:\n  web:\n    command: [x]\n", "services.web: has neither an image nor a build section"),
])
def test_mistakes_are_named(tmp_path, text, expected):
    assert expected in _refused(tmp_path, text).message


def _model(**service):
    return {"name": "x", "services": {"a": {"image": "x", **service}}}


@pytest.mark.parametrize("model, expected", [
    ({"name": "x", "services": {}}, "no services"),
    ({"name": "x", "services": {"../etc": {"image": "x"}}}, "service name '../etc' is not valid"),
    ({"name": "X Y", "services": {"a": {"image": "x"}}}, "name"),
    (_model(ports=[{"target": 99999}]), "services.a.ports[0].target"),
    (_model(volumes=[{"type": "bind", "source": "/x", "target": "rel"}]), "services.a.volumes[0].target"),
    (_model(image=["not", "a", "string"]), "services.a.image"),
    (_model(command="a shell string"), "services.a.command"),
    (_model(environment={"A": 1}), "services.a.environment.A"),
    (_model(privileged="yes"), "services.a.privileged"),
    (_model(bogus=True), "services.a: 'bogus' is not a compose key"),
    (_model(volumes=[{"type": "bind", "source": "/", "target": "/h", "bind": {"evil": 1}}]), "services.a.volumes[0].bind"),
    (_model(depends_on={"b": {"condition": "whenever"}}), "services.a.depends_on.b.condition"),
    ({**_model(), "evil": 1}, "top level: 'evil' is not a compose key"),
    ({"name": "x", "services": {f"s{i}": {"image": "x"} for i in range(300)}}, "more than"),
    (_model(labels={"a": "x" * (3 << 20)}), "bytes, more than"),
    (_model(**{"x-deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}), "nested deeper"),
    ("not an object", "must be a JSON object"),
])
def test_the_gateway_refuses_a_hostile_model(model, expected):
    with pytest.raises(ComposeError) as info:
        validate_model(model)
    assert expected in info.value.message


def test_the_gateway_accepts_extensions_where_the_spec_allows_them():
    model = {"name": "x", "services": {"a": {"image": "x", "x-team": {"owner": "me"}}}, "x-site": [1]}
    assert validate_model(model) is model


def test_obsolete_version_is_a_warning_not_an_error(tmp_path):
    project = _load(tmp_path, "version: '3'\nservices:\n  a:\n    image: x\n")
    assert any("version" in w and "obsolete" in w for w in project.warnings)
    assert "version" not in project.model


def test_a_bad_env_file_line_is_named_by_number_without_its_secret(tmp_path):
    (tmp_path / "app.env").write_text("GOOD=1\nnot a line hunter2\n")
    error = _refused(tmp_path, "services:\n  a:\n    image: x\n    env_file: app.env\n")
    assert "app.env:2" in error.message and "hunter2" not in error.message


def test_a_missing_env_file_is_named(tmp_path):
    error = _refused(tmp_path, "services:\n  a:\n    image: x\n    env_file: nothere.env\n")
    assert "nothere.env" in error.message and "required: false" in error.hint


def test_an_unset_variable_that_breaks_a_value_is_named(tmp_path):
    error = _refused(tmp_path, "services:\n  a:\n    image: x\n    volumes: ['${DATA}:/data']\n")
    assert "services.a.volumes[0]" in error.message and "DATA is not set" in error.message
    assert "DATA" in error.hint


def test_many_small_alias_bombs_share_one_budget(tmp_path):
    bomb = "a0: &a0 [x,x,x,x,x,x,x,x,x,x]\na1: &a1 [*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0,*a0]\n" \
           "a2: &a2 [*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1,*a1]\na3: [*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2,*a2]\n"
    assert "alias bomb" in _refused(tmp_path, "---\n".join([bomb] * 30)).message


def test_documents_of_one_file_merge_as_files_do(tmp_path):
    project = _load(tmp_path, "services:\n  a:\n    image: x\n---\nservices:\n  a:\n    command: [run]\n  b:\n    image: y\n")
    assert project.model["services"]["a"]["command"] == ["run"] and "b" in project.model["services"]


def test_an_empty_file_is_named(tmp_path):
    assert "compose.yaml: the compose file is empty" in _refused(tmp_path, "# nothing here\n").message


def test_a_file_of_too_many_nodes_is_refused(tmp_path):
    text = "services:\n  a:\n    image: x\nx-list: [" + ",".join(["1"] * 300_000) + "]\n"
    error = _refused(tmp_path, text)
    assert "more than 200000 YAML nodes" in error.message and "alias" not in error.message


def test_a_one_letter_volume_name_is_refused_not_read_as_a_drive(tmp_path):
    # A deliberate difference: Docker Compose reads "v:/v:ro" as the Windows path "v:/v" mounted on "ro".
    error = _refused(tmp_path, "services:\n  a:\n    image: x\n    volumes: ['v:/v:ro']\nvolumes:\n  v: {}\n")
    assert 'services.a.volumes[0]: "v:/v:ro" reads as a Windows drive path' in error.message
