"""yamllint on deploy/ with the repository's .yamllint.yaml; warnings fail too."""

from __future__ import annotations

from pathlib import Path

from yamllint import linter
from yamllint.config import YamlLintConfig

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / '.yamllint.yaml'


def problems(path: Path, config: YamlLintConfig) -> list[str]:
    """Every yamllint problem of PATH, warnings included (strict mode)."""
    with path.open(encoding='utf-8') as stream:
        return [
            f'{path.name}:{p.line}:{p.column}: {p.level}: {p.message} ({p.rule})'
            for p in linter.run(stream, config, str(path))
        ]


def yaml_files() -> list[Path]:
    return sorted(
        path
        for pattern in ('*.yaml', '*.yml')
        for path in (REPO / 'deploy').rglob(pattern)
    )


def test_deploy_yaml_is_clean() -> None:
    config = YamlLintConfig(file=str(CONFIG))
    files = yaml_files()
    assert len(files) >= 15, files
    found = [problem for path in files for problem in problems(path, config)]
    assert found == []


def test_lint_catches_style_errors(tmp_path: Path) -> None:
    # a broken copy of a deploy file: 4-space indentation, a YAML 1.1 boolean,
    # a trailing space and a duplicated key
    config = YamlLintConfig(file=str(CONFIG))
    original = REPO / 'deploy' / 'prometheus' / 'prometheus.yml'
    text = original.read_text()
    broken = tmp_path / 'prometheus.yml'
    broken.write_text(
        text.replace('  scrape_interval: 15s', '    scrape_interval: 15s ')
        + 'flag: yes\nflag: no\n'
    )
    found = '\n'.join(problems(broken, config))
    for rule in ('indentation', 'trailing-spaces', 'truthy', 'key-duplicates'):
        assert f'({rule})' in found, found
