"""compose.yaml, the worked layout of docs/deployment.md: its toolwall.toml is a valid
configuration with a shared Redis state, and its Redis never evicts and keeps its data.
(Docker is not run here: the test machine has no Docker daemon.)"""

from __future__ import annotations

import tomllib

import yaml

from tests.conftest import ROOT
from toolwall.config import Config

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def test_the_replicas_share_a_redis_state() -> None:
    # Compose turns `$$` into `$`: toolwall then reads ${VAR} from the environment.
    text = COMPOSE["configs"]["toolwall.toml"]["content"].replace("$$", "$")
    config = Config.from_dict(tomllib.loads(text))
    assert config.state.backend == "redis"
    assert config.state.url == "redis://:${TOOLWALL_REDIS_PASSWORD}@redis:6379/0"
    assert config.approvals.approver == "queue"
    assert COMPOSE["services"]["toolwall"]["deploy"]["replicas"] >= 2


def test_redis_keeps_its_data_and_never_evicts() -> None:
    command = COMPOSE["services"]["redis"]["command"]
    settings = dict(zip(command[1::2], command[2::2], strict=True))
    assert settings["--maxmemory-policy"] == "noeviction"
    assert settings["--appendonly"] == "yes"
    assert "--requirepass" in settings
