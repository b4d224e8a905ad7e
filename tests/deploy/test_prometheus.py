"""deploy/prometheus: the alert rules use only metrics the exporters publish."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from torchgeo_cstf.jobs.depth import EXPORTED as QUEUE_METRICS
from workers.metrics import EXPORTED as WORKER_METRICS

DEPLOY = Path(__file__).resolve().parents[2] / 'deploy'
ALERTS = DEPLOY / 'prometheus' / 'alerts.yml'
KEDA = DEPLOY / 'k8s' / 'base' / 'keda.yaml'

#: metric name -> type, as the exporters publish them (workers on 9808, the
#: queue exporter `cstf queue-metrics` on 9809, Flower on 5555). Counters are
#: listed with their `_total` sample name.
EXPORTED: dict[str, str] = {
    **WORKER_METRICS,
    **dict.fromkeys(QUEUE_METRICS, 'gauge'),
    # Flower's own exporter
    'flower_worker_online': 'gauge',
    'flower_events_total': 'counter',
    'flower_task_runtime_seconds': 'histogram',
    # Prometheus itself (scrape health)
    'up': 'gauge',
}
METRIC = re.compile(r'\bcstf_[a-z_]+|\bflower_[a-z_]+|\bup\b')
#: the series a histogram (and a summary) adds to its name
HISTOGRAM_SUFFIXES = ('_bucket', '_count', '_sum')
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_LABEL_NAMES = re.compile(r'\b[a-z_]+\s*(?==~|!=|!~|=(?!=))')


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label values and names left out)."""
    bare = _STRINGS.sub('""', expr)
    bare = _LABEL_NAMES.sub('', bare)
    return set(METRIC.findall(bare))


def unknown_metrics(expr: str) -> set[str]:
    """Names in EXPR that no exporter publishes (histogram series resolved)."""
    unknown = set()
    for name in metric_names(expr):
        if name in EXPORTED:
            continue
        base = next(
            (name.removesuffix(s) for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None
        )
        if base is not None and EXPORTED.get(base) == 'histogram':
            continue
        unknown.add(name)
    return unknown


def rules(path: Path) -> list[dict]:
    document = yaml.safe_load(path.read_text())
    assert set(document) == {'groups'}, 'a Prometheus rule file'
    found = []
    for group in document['groups']:
        assert set(group) <= {'name', 'interval', 'rules', 'limit'}, group.get('name')
        assert group['rules'], group['name']
        found.extend(group['rules'])
    return found


def test_alert_rules_are_rule_groups() -> None:
    found = rules(ALERTS)
    names = [rule['alert'] for rule in found]
    assert len(names) == len(set(names)), 'duplicate alert names'
    for rule in found:
        assert set(rule) <= {'alert', 'expr', 'for', 'labels', 'annotations'}, rule
        assert isinstance(rule['expr'], str) and rule['expr'].strip()
        assert rule['labels']['severity'] in ('critical', 'warning', 'info')
        assert rule['annotations']['summary']
        assert rule['expr'].count('(') == rule['expr'].count(')'), rule['alert']
        if 'for' in rule:
            assert re.fullmatch(r'(\d+[smhd])+', rule['for']), rule['alert']


def test_alerts_use_exported_metrics() -> None:
    used = set()
    for rule in rules(ALERTS):
        assert unknown_metrics(rule['expr']) == set(), rule['alert']
        used |= metric_names(rule['expr'])
    # the rules watch the queues, the jobs and the workers
    for name in ('cstf_redis_up', 'cstf_queue_oldest_age_seconds', 'cstf_jobs_total'):
        assert name in used


def test_checker_catches_an_unknown_metric(tmp_path: Path) -> None:
    # a broken copy of the rules: a misspelt metric, a counter read as a histogram
    text = ALERTS.read_text()
    assert 'cstf_queue_oldest_age_seconds' in text
    broken = tmp_path / 'alerts.yml'
    broken.write_text(
        text.replace('cstf_queue_oldest_age_seconds', 'cstf_queue_oldest_age')
    )
    unknown = set().union(*(unknown_metrics(r['expr']) for r in rules(broken)))
    assert unknown == {'cstf_queue_oldest_age'}
    assert unknown_metrics('rate(cstf_jobs_total_bucket[5m])') == {
        'cstf_jobs_total_bucket'
    }
    assert unknown_metrics('rate(cstf_job_duration_seconds_bucket[5m])') == set()


@pytest.mark.parametrize(
    ('expr', 'names'),
    [
        ('max(cstf_queue_depth{queue="cstf_x"})', {'cstf_queue_depth'}),
        ('up{job="cstf-workers"} == 0', {'up'}),
        ('sum by (task) (rate(cstf_jobs_total{code="up"}[5m]))', {'cstf_jobs_total'}),
    ],
)
def test_metric_names_skip_label_values(expr, names) -> None:
    assert metric_names(expr) == names


def test_keda_queries_use_exported_metrics() -> None:
    for document in yaml.safe_load_all(KEDA.read_text()):
        if not document or document['kind'] != 'ScaledObject':
            continue
        for trigger in document['spec']['triggers']:
            if trigger['type'] == 'prometheus':
                assert unknown_metrics(trigger['metadata']['query']) == set()
