"""The version of tap-zohocrm: its one source.

setuptools reads it for the package metadata (pyproject `dynamic = ["version"]`) and the CLI
prints it (`--version`, `--about`). A file rather than git tags: clones without tags (CI, a
`pip install git+...` of a shallow clone) and source trees without .git would build a wrong
version otherwise. Bump it with a CHANGELOG.md entry.
"""

__version__ = "0.1.0"
