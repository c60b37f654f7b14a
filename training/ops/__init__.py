"""Running the system: jobs, backup and restore, start-up, adaptation on the platform data, the demo."""
