"""The run folder, as every stage reads and writes it: its file names and exit codes (``contract``), checkpoints
and their manifests (``checkpoints``), and the locks that keep two appliers or two trainers apart (``locks``).
Plain files and the standard library only: the trainer, apply, report and export all import it."""
