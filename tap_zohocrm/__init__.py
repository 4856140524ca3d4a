"""Singer tap for Zoho CRM."""

# The version's one source: setuptools reads it for the package metadata (pyproject
# `dynamic = ["version"]`, statically, without importing the package) and the CLI prints it
# (`--version`, `--about`). A line here rather than git tags: clones without tags (CI, a shallow
# `pip install git+...`) and source trees without .git would build a wrong version. Bump it
# with a CHANGELOG.md section.
__version__ = "0.1.0"
