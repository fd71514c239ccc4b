"""Sensitive data discovery: sample columns at their source, classify them, tag them.

* ``classifiers``, ``validators``, ``classify``: pure logic over Arrow arrays (no I/O).
* ``sampling``: the bounded random sample query per source dialect.
* the SQLite tag store under ``state_dir`` (discovered tags, rejections, scans) is
  :mod:`veil.state.tagstore`, below discovery, since object sync writes source tags there too.
* ``watch``: how a running engine notices tag changes made by another process.
* ``run``: a discovery run over catalog tables; ``console``: the ``veil discover`` / ``veil tags``
  commands.

Discovered tags are ``Discovered.Entity.<Name>`` plus category tags (``Discovered.PII``,
``Discovered.PCI``, ``Discovered.Identifier.Direct`` ...), so global policies on them protect
columns nobody tagged by hand.
"""

from veil.discovery.classifiers import BUILTIN_CLASSIFIERS, ENTITY_PREFIX, Classifier
from veil.discovery.classify import ColumnResult, classify_column, classify_table
from veil.state.tagstore import TagStore, store_path

__all__ = [
    "BUILTIN_CLASSIFIERS",
    "ENTITY_PREFIX",
    "Classifier",
    "ColumnResult",
    "TagStore",
    "classify_column",
    "classify_table",
    "store_path",
]
