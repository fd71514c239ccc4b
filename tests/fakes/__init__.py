"""Test doubles for source systems that cannot run locally (see each module's docstring)."""
