"""Files and archives: the graphengine file format (archive.py) and atomic writes (atomic.py)."""
