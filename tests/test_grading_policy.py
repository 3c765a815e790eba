"""The policy gate reads compose's own parsed model (`docker compose config`) and refuses, with a reason,
everything a grader must never run; the rewritten model keeps a submission in its namespace and limits."""
from __future__ import annotations

import os
import shutil

import pytest
import yaml

from checkers.grading import policy as P
from checkers.grading.sandbox import NO_MASQ, Limits, sanitize_compose
from checkers.grading.submissions import cli_base_env

from .helpers import EXERCISES

REFERENCE = yaml.safe_load((EXERCISES / "compose-stack" / "solution" / "compose.yaml").read_text())


@pytest.fixture
def ws(tmp_path):
    d = tmp_path / "compose-stack"
    shutil.copytree(EXERCISES / "compose-stack", d, ignore=shutil.ignore_patterns("solution*"))
    return d


def config(ws, change=None, extra_files: dict | None = None):
    doc = yaml.safe_load(yaml.safe_dump(REFERENCE))
    if change:
        change(doc)
    (ws / "compose.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for name, text in (extra_files or {}).items():
        (ws / name).write_text(text)
    env = cli_base_env(ws.parent)
    return P.compose_config(ws, ["compose.yaml"], env, project="policytest")


def rules(ws, change=None, **kw) -> dict:
    try:
        cfg = config(ws, change, **kw)
    except P.Refused as exc:
        return {v.where: v.rule for v in exc.violations}
    return {v.where: v.rule for v in P.check_compose(cfg, ws)}


def web(**settings):
    return lambda d: d["services"]["web"].update(settings)


def redis_volume(spec):
    return lambda d: d["services"]["redis"]["volumes"].append(spec)


def test_reference_solution_is_allowed(ws):
    assert rules(ws) == {}


@pytest.mark.parametrize("change, where, rule", [
    (web(privileged=True), "services.web.privileged", "privileged"),
    (redis_volume("/:/host"), "services.redis.volumes[1].source", "host-path"),
    (redis_volume("/var/run/docker.sock:/var/run/docker.sock"), "services.redis.volumes[1].source", "docker-socket"),
    (redis_volume("../..:/up"), "services.redis.volumes[1].source", "host-path"),
    (web(network_mode="host"), "services.web.network_mode", "host-namespace"),
    (web(pid="host"), "services.web.pid", "host-namespace"),
    (web(ipc="host"), "services.web.ipc", "host-namespace"),
    (web(devices=["/dev/kmsg:/dev/kmsg"]), "services.web.devices", "devices"),
    (web(cap_add=["SYS_ADMIN"]), "services.web.cap_add", "cap-add"),
    (web(security_opt=["seccomp=unconfined"]), "services.web.security_opt[0]", "unconfined"),
    (web(security_opt=["apparmor=unconfined"]), "services.web.security_opt[0]", "unconfined"),
    (web(logging={"driver": "syslog", "options": {"syslog-address": "tcp://192.0.2.1:514"}}),
     "services.web.logging.driver", "logging"),
    (web(build={"context": "/"}), "services.web.build.context", "host-path"),
    (web(build={"context": "./web", "ssh": ["default"]}), "services.web.build.ssh", "build"),
    (web(build={"context": "./web", "network": "host"}), "services.web.build.network", "build"),
    (lambda d: d["volumes"].update({"redis-data": {"external": True, "name": "someone-elses"}}),
     "volumes.redis-data.external", "external"),
    (lambda d: d["volumes"].update({"redis-data": {"driver_opts": {"type": "none", "o": "bind", "device": "/etc"}}}),
     "volumes.redis-data.driver_opts", "host-path"),
    (lambda d: d.update(networks={"default": {"external": True, "name": "bridge"}}), "networks.default.external", "external"),
    (lambda d: (d["services"]["web"].update(secrets=["s"]), d.update(secrets={"s": {"file": "/etc/passwd"}})),
     "secrets.s.file", "host-path"),
    (lambda d: d["services"]["redis"].update(deploy={"replicas": 50}), "services.redis.deploy.replicas", "size"),
    (web(uts="host"), "services.web.uts", "host-namespace"),
    (web(cgroup_parent="/"), "services.web.cgroup_parent", "runtime"),
    (web(volumes_from=["container:someone-else"]), "services.web.volumes_from[0]", "other-namespace"),
])
def test_refused_settings(ws, change, where, rule):
    found = rules(ws, change)
    assert found.get(where) == rule, found


def test_env_file_outside_is_refused_before_it_is_read(ws, tmp_path):
    secret = tmp_path / "instructor.env"
    secret.write_text("INSTRUCTOR_TOKEN=very-secret\n")
    with pytest.raises(P.Refused) as exc:
        config(ws, web(env_file=[str(secret)]))
    v = exc.value.violations[0]
    assert (v.where, v.rule) == ("services.web.env_file[0]", "host-path")
    assert "very-secret" not in str(exc.value)
    assert rules(ws, web(env_file=[".env"]), extra_files={".env": "GREETING=hi\n"}) == {}


def test_include_outside_is_refused(ws, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("services: {extra: {image: busybox:1.35}}\n")
    assert rules(ws, lambda d: d.update(include=[str(other)])) == {"include[0]": "host-path"}


def test_a_symlinked_bind_source_is_judged_by_where_it_leads(ws):
    os.symlink("/etc", ws / "conf")
    assert rules(ws, redis_volume("./conf:/conf")) == {"services.redis.volumes[1].source": "host-path"}


def test_instructor_environment_does_not_reach_interpolation(ws, monkeypatch):
    monkeypatch.setenv("INSTRUCTOR_SECRET", "s3cr3t")
    cfg = config(ws, web(environment={"REDIS_HOST": "redis", "LEAK": "${INSTRUCTOR_SECRET:-none}"}))
    assert cfg["services"]["web"]["environment"]["LEAK"] == "none"


def test_an_invalid_compose_file_is_a_policy_error_with_compose_s_words(ws):
    (ws / "compose.yaml").write_text("services:\n  web:\n    build: ./web\n    ports: 8000\n")
    with pytest.raises(P.PolicyError) as exc:
        P.compose_config(ws, ["compose.yaml"], cli_base_env(ws.parent), project="policytest")
    assert "ports" in exc.value.output


def test_dockerfile_flags(tmp_path):
    df = tmp_path / "Dockerfile"
    df.write_text("FROM python:3.11-slim\nRUN --security=insecure \\\n    echo hi\nRUN --network=host pip install x\n"
                  "RUN --network=none echo fine\nRUN echo --network=host is just text\n")
    found = [(v.where, v.rule) for v in P.check_dockerfile(df)]
    assert found == [("Dockerfile line 2: RUN --security", "privileged"), ("Dockerfile line 4: RUN --network", "build")]
    assert P.base_images(df) == ["python:3.11-slim"]


@pytest.mark.parametrize("args, rule", [
    ("--privileged", "privileged"), ("-v /:/host", "host-path"), ("--volume=/etc:/etc:ro", "host-path"),
    ("-v /var/run/docker.sock:/var/run/docker.sock", "docker-socket"),
    ("--mount type=bind,source=/var/run/docker.sock,target=/s", "docker-socket"),
    ("--cap-add NET_ADMIN", "cap-add"), ("--pid host", "host-namespace"), ("--network=host", "host-namespace"),
    ("--device /dev/fuse", "devices"), ("--security-opt apparmor=unconfined", "unconfined"),
    ("--log-driver syslog", "logging"),
])
def test_run_options_refused(tmp_path, args, rule):
    found = P.check_run_args(P.parse_run_file(args), tmp_path)
    assert [v.rule for v in found] == [rule]


def test_safe_run_options_pass_and_grader_owned_ones_are_dropped(tmp_path):
    args = P.parse_run_file("# how I run it\n-d --name safe -p 0.0.0.0:80:8080 --read-only --tmpfs /tmp \\\n"
                            "--cap-drop ALL --security-opt no-new-privileges -v ./data:/data --rm\n")
    assert P.check_run_args(args, tmp_path) == []
    assert P.grader_owned_removed(args) == ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt",
                                            "no-new-privileges", "-v", "./data:/data"]


def test_rewritten_model_is_namespaced_limited_and_loopback_only(ws):
    cfg = config(ws, lambda d: (d["services"]["web"].update(container_name="web", mem_limit="2g"),
                                d["services"]["redis"].update(ports=["6379:6379"])))
    labels = {"org.dockercourse.run": "r1"}
    handed = iter([41000, 41001])
    ports = {}
    safe = sanitize_compose(cfg, "gr1-amy-compose-stack", "gr1-amy-", labels, Limits(memory="128m"),
                            lambda p: ports.setdefault(p, next(handed)), outside=False)
    web_svc, redis = safe["services"]["web"], safe["services"]["redis"]
    assert safe["name"] == "gr1-amy-compose-stack" and web_svc["container_name"] == "gr1-amy-web"
    assert web_svc["labels"]["org.dockercourse.run"] == "r1" and web_svc["build"]["labels"]["org.dockercourse.run"] == "r1"
    assert web_svc["build"]["network"] == "none"
    assert web_svc["mem_limit"] == str(128 * 1024 * 1024) and web_svc["pids_limit"] == 256
    assert web_svc["logging"] == {"driver": "json-file", "options": {"max-size": "1m", "max-file": "1"}}
    assert sorted(ports.values()) == [41000, 41001] and set(ports) == {8000, 6379}
    assert [(p["host_ip"], p["published"]) for p in web_svc["ports"]] == [("127.0.0.1", str(ports[8000]))]
    assert [(p["host_ip"], p["published"]) for p in redis["ports"]] == [("127.0.0.1", str(ports[6379]))]
    net = safe["networks"]["default"]
    assert net["name"] == "gr1-amy-compose-stack_default" and net["driver_opts"] == NO_MASQ and not net.get("internal")
    assert safe["volumes"]["redis-data"]["labels"]["org.dockercourse.run"] == "r1"
    # no service publishes: the network is internal (nothing leaves the machine, nothing needs to come in)
    quiet = sanitize_compose(config(ws, lambda d: (d["services"]["web"].pop("ports"))), "p", "x-", labels, Limits(),
                             lambda p: 1, outside=False)
    assert quiet["networks"]["default"]["internal"] is True
