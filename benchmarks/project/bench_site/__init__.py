"""The project every contender deploys; see settings.py."""
