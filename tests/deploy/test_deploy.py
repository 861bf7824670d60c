"""What ships in deploy/: alert rules checked and unit-tested by promtool, a Grafana dashboard
and rules that only use metrics balmon serves, systemd units that systemd accepts."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from balmon.config import load_settings
from balmon.dashboard import metrics
from tests.conftest import IN_CI

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "balmon-rules.yml"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if IN_CI:
            pytest.fail("promtool is missing (scripts/ensure-test-tools.sh installs it)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def test_promtool_unit_tests_fire_each_rule_when_it_should() -> None:
    tests = DEPLOY / "prometheus" / "balmon-rules.test.yml"
    result = subprocess.run(
        [_promtool(), "test", "rules", str(tests)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _expressions() -> list[str]:
    rules = yaml.safe_load(RULES.read_text())
    found = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((DEPLOY / "grafana" / "balmon-dashboard.json").read_text())
    found += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    return found


def test_rules_and_dashboard_use_only_metrics_balmon_serves(engine: Engine) -> None:
    served = metrics.render(engine, load_settings(None)).decode()
    # TYPE lines name every family, also those with no sample yet (an empty database).
    names = set(re.findall(r"^# TYPE (balmon_\w+) \w+$", served, flags=re.MULTILINE))
    used = {name for expr in _expressions() for name in re.findall(r"balmon_\w+", expr)}
    assert used and used <= names, used - names


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / name)
    return parser


def test_the_service_restarts_on_failure_as_a_dedicated_hardened_user() -> None:
    service = _unit("balmon.service")["Service"]
    assert service["ExecStart"].endswith("balmon serve")
    assert service["Restart"] == "on-failure" and service["User"] == "balmon"
    assert service["KillSignal"] == "SIGTERM" and service["SuccessExitStatus"] == "143"
    grace = load_settings(None).engine.shutdown_grace_seconds
    assert int(service["TimeoutStopSec"]) > grace  # balmon stops itself before systemd kills
    for hardening in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp", "ProtectHome"):
        assert service[hardening] in ("yes", "strict")
    timer = _unit("balmon-run.timer")["Timer"]
    assert timer["Persistent"] == "true" and "06:00" in timer["OnCalendar"]
    assert "balmon alerts flush" in _unit("balmon-run.service")["Service"]["ExecStartPost"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    balmon = Path(sys.executable).with_name("balmon")
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace("/opt/balmon/.venv/bin/balmon", str(balmon))
        (tmp_path / unit.name).write_text(text)
    units = sorted(str(p) for p in tmp_path.iterdir())
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "Documentation=" not in line
    ]
    assert problems == [], problems
