"""An app with static files, for AppDirectoriesFinder in the differential tests."""
