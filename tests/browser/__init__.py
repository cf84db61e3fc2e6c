"""Real-browser tests of the Voila apps (a package: its conftest gets a unique module name)."""
