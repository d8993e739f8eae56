"""docker-compose.yml cannot run here (no Docker engine): validate it against the Compose
specification's JSON schema (vendored in tests/schemas) and check it agrees with the README."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "compose-spec.json").read_text())


def test_compose_file_is_valid_against_the_spec() -> None:
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    errors = sorted(validator.iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_catches_mistakes() -> None:
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    broken = json.loads(json.dumps(COMPOSE))
    broken["services"]["db"]["healthcheck"]["interval"] = ["5s"]
    broken["services"]["loader"]["depends_on"]["db"]["condition"] = "whenever"
    assert len(list(validator.iter_errors(broken))) >= 2


def test_services_do_what_the_readme_says() -> None:
    services = COMPOSE["services"]
    db = services["db"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert any(v.startswith("pgdata:") for v in db["volumes"]) and "pgdata" in COMPOSE["volumes"]
    loader = " ".join(services["loader"]["command"])
    for step in ["dbapp db upgrade", "dbapp load seeds/", "dbapp db grant-reader metabase"]:
        assert step in loader
    assert services["loader"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["metabase"]["depends_on"]["loader"]["condition"] == (
        "service_completed_successfully"
    )
    setup = (REPO / "docker" / "metabase-setup.sh").read_text()
    assert '"user": "metabase"' in setup and "/api/setup" in setup
    readme = (REPO / "README.md").read_text()
    assert "docker compose up" in readme
    for variable in ["POSTGRES_PASSWORD", "BI_PASSWORD", "MB_ADMIN_EMAIL", "MB_ADMIN_PASSWORD"]:
        assert variable in readme, variable
    # No secret is written into the file: every password comes from the environment.
    text = (REPO / "docker-compose.yml").read_text()
    for line in text.splitlines():
        if "PASSWORD" in line and ":" in line and not line.strip().startswith("#"):
            assert "${" in line or "$$" in line, line
