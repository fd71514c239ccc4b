"""What Veil keeps on disk and shares between processes: the SQLite base, the tag store
(written by object sync and discovery) and the poll gates through which a running
server notices another process's changes. Below both catalog and discovery."""
