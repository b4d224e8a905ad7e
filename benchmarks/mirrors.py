"""Read public repositories that hold real data files: clones or fetched git directories.

Shared by the ``prepare_real_*`` scripts. A repository is a git clone, or a git
directory as the search tool's ``fetch`` leaves it (``MIRRORS/owner+name/repo``).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

#: how a Git LFS pointer file begins
LFS_POINTER = b'version https://git-lfs'


class Repository:
    """Files of one repository, from a clone or from a bare git directory."""

    def __init__(self, path: Path) -> None:
        """Open the repository at ``path``."""
        self.path = path
        self.bare = not (path / '.git').exists() and (path / 'HEAD').exists()

    @property
    def commit(self) -> str:
        """The commit read."""
        return self._git('rev-parse', 'HEAD').decode().strip()

    def _git(self, *args: str) -> bytes:
        flag = ['--git-dir', str(self.path)] if self.bare else ['-C', str(self.path)]
        return subprocess.run(
            ['git', *flag, *args], check=True, capture_output=True
        ).stdout

    def list(self, folder: str) -> list[str]:
        """Paths of the files under ``folder``, sorted."""
        where = [folder.rstrip('/') + '/'] if folder else []
        out = self._git('ls-tree', '-r', '--name-only', 'HEAD', *where)
        return sorted(line for line in out.decode().splitlines() if line)

    def read(self, name: str) -> bytes:
        """The bytes of a file; refuses Git LFS pointers."""
        data = self._git('show', f'HEAD:{name}')
        if data.startswith(LFS_POINTER):
            raise SystemExit(f'{self.path}: {name} is a Git LFS pointer, not data')
        return data

    def extract(self, folder: str, out: Path) -> int:
        """Write every file under ``folder`` to ``out`` (same relative paths).

        Args:
            folder: a folder of the repository.
            out: where ``folder``'s content goes.

        Returns:
            The number of files written.

        Raises:
            SystemExit: a file is a Git LFS pointer.
        """
        archive = self._git('archive', '--format=tar', 'HEAD', folder.rstrip('/'))
        count = 0
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                handle = tar.extractfile(member)
                assert handle is not None
                data = handle.read()
                if data.startswith(LFS_POINTER):
                    raise SystemExit(
                        f'{self.path}: {member.name} is a Git LFS pointer, not data'
                    )
                relative = Path(member.name).relative_to(folder.rstrip('/'))
                write(out / relative, data)
                count += 1
        return count


def find_repository(mirrors: Path, name: str) -> Repository:
    """The repository ``owner/name`` under ``mirrors``, in any usual layout."""
    owner, repo = name.split('/')
    for candidate in (
        mirrors / f'{owner}+{repo}' / 'repo',
        mirrors / f'{owner}+{repo}',
        mirrors / owner / repo,
        mirrors / repo,
    ):
        if (candidate / 'HEAD').exists() or (candidate / '.git').exists():
            return Repository(candidate)
    raise SystemExit(f'{name}: not found under {mirrors} (clone or fetch it first)')


def write(path: Path, data: bytes) -> None:
    """Write a file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
