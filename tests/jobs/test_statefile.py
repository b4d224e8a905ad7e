"""The watchers' state file: records kept, written atomically, read per scan."""

import json
from pathlib import Path

import pytest

from torchgeo_cstf.jobs.statefile import StateFile


def test_records_survive_and_reads_are_live_views(tmp_path: Path) -> None:
    path = tmp_path / 'state.json'
    state = StateFile(path)
    assert state.read() == {}
    assert not path.exists()  # created by the first record only
    state.record('a', 'job-1')
    state.record('b', {'error': 'BAD_CRS'})
    assert json.loads(path.read_text()) == {'a': 'job-1', 'b': {'error': 'BAD_CRS'}}
    assert [p.name for p in tmp_path.iterdir()] == ['state.json']  # no temporary left
    # a restarted watcher reads what the first one recorded
    again = StateFile(path)
    records = again.read()
    assert records == {'a': 'job-1', 'b': {'error': 'BAD_CRS'}}
    with pytest.raises(TypeError):  # a view: records are made by record()
        records['c'] = 'not recorded'  # type: ignore[index]
    again.record('c', 'job-3')
    assert records['c'] == 'job-3'  # ... and a live one


def test_a_record_does_not_reread_the_file(tmp_path: Path) -> None:
    path = tmp_path / 'state.json'
    state = StateFile(path)
    state.record('a', 'job-1')
    # an edit behind a running watcher's back is replaced by its next record ...
    path.write_text(json.dumps({'edited': True}))
    state.record('b', 'job-2')
    assert json.loads(path.read_text()) == {'a': 'job-1', 'b': 'job-2'}
    # ... and seen by the next scan's read, which the records then extend
    path.write_text(json.dumps({'edited': True}))
    assert state.read() == {'edited': True}
    state.record('c', 'job-3')
    assert json.loads(path.read_text()) == {'edited': True, 'c': 'job-3'}
