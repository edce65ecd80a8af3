"""Command-line layer: the program, the task session, and the tasks."""
