"""Running jobs: the dispatcher that claims queued jobs and submits them to Ray (`dispatch`),
what a job's process runs (`tasks`), how a failure is classified
(`failures`), the reaper of jobs whose process died (`reaper`) and the retention sweep
(`retention`). The job process imports this package without FastAPI."""
