"""Running a plan: ``apply`` (the whole run: inputs, training, evaluation, report, in its run folder), ``inputs``
(what the trainer reads, and launchable folders for other schedulers), ``training`` (the plan's launch, run and
judged), ``trust`` (whether a folder's finished state can be believed) and ``export``."""
