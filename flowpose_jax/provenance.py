"""What a built dataset was built from, so a build never silently outlives its source files.

A builder that reads a user's files (``manual_dir``) gets, beside its records,
``<data_dir>/<name>/<config>/<version>/flowpose_source.json.gz``: the folders
it read (``manual_dir``, plus any sibling folders its config names with
``source_folders``), every file below them with its size, modification time and
SHA-256, and the flowpose_jax builder version. Comparing that listing with the
folders as they are now says which file was added, removed or changed since the
build: size and time first (no file read); a file whose time alone moved (a copy,
a checkout, a restore from backup) is read and counts as changed only when its
bytes differ.

Synthetic sets read no user files and record nothing (TFDS already keeps one
folder per builder version).
"""

from __future__ import annotations

import gzip
import json
import os
import time

from flowpose_jax import fileio

SOURCE_FILE = "flowpose_source.json.gz"
FORMAT = 2  # 1: [size, mtime_ns] per file; 2: [size, mtime_ns, sha256]


def source_folders(builder_config, manual_dir: str) -> list[str]:
  """The folders a build reads: ``manual_dir`` and the config's ``source_folders(manual_dir)`` if any."""
  extra = getattr(builder_config, "source_folders", None)
  folders = [os.path.abspath(manual_dir)]
  if callable(extra):
    folders += [os.path.abspath(os.fspath(f)) for f in extra(manual_dir)]
  return folders


def listing(folders: list[str], hashes: bool = False) -> dict[str, list]:
  """{"<folder>/<relative path>": [size, mtime_ns] (+ sha256 with ``hashes``)} of every file below
  ``folders`` (symlinks followed)."""
  out = {}
  for folder in folders:
    for root, dirs, files in os.walk(folder, followlinks=True):
      dirs.sort()
      for name in sorted(files):
        path = os.path.join(root, name)
        try:
          st = os.stat(path)
        except OSError:
          continue  # vanished while listing: the comparison reports it
        out[path] = [st.st_size, st.st_mtime_ns]
        if hashes:
          try:
            out[path].append(fileio.file_sha256(path))
          except OSError:
            del out[path]
  return out


def record(version_dir: str, folders: list[str], builder_version: str) -> None:
  """Writes the source listing of a finished build into its version folder."""
  doc = {"format": FORMAT, "folders": folders, "builder_version": builder_version,
         "built": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "files": listing(folders, hashes=True)}
  fileio.write_bytes(os.path.join(version_dir, SOURCE_FILE), gzip.compress(json.dumps(doc).encode()))


def recorded(version_dir: str) -> dict | None:
  """The listing a build recorded, or None (synthetic, or built before provenance existed)."""
  path = os.path.join(version_dir, SOURCE_FILE)
  if not os.path.exists(path):
    return None
  try:
    return json.loads(gzip.decompress(open(path, "rb").read()))
  except (OSError, ValueError, EOFError):
    return None  # unreadable: treated as unknown, like a build from before provenance


def changes(doc: dict) -> tuple[str, int] | None:
  """How the recorded folders differ from now: (one phrase naming the first difference, how many
  files differ), or None when they match. Folders that no longer exist are not compared (a build
  copied to a cluster without its sources stays usable): None."""
  folders = doc["folders"]
  if not all(os.path.isdir(f) for f in folders):
    return None
  then, now = doc["files"], listing(folders)
  differ = sorted(set(then) ^ set(now) | {p for p in set(then) & set(now) if _changed(p, then[p], now[p])})
  if not differ:
    return None
  first = differ[0]
  what = "was added" if first not in then else "was removed" if first not in now else "changed"
  return f"{first} {what}", len(differ)


def _changed(path: str, then: list, now: list) -> bool:
  """Whether a file differs from its recorded [size, mtime_ns(, sha256)]: the same size and time
  is taken as unchanged; the same size at another time is read and compared when a hash was kept."""
  if then[:2] == now[:2]:
    return False
  if then[0] != now[0] or len(then) < 3:
    return True
  try:
    return fileio.file_sha256(path) != then[2]
  except OSError:
    return True


__all__ = ["SOURCE_FILE", "changes", "listing", "record", "recorded", "source_folders"]
