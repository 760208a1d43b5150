"""What every part of the service stands on: its settings (`config`), the database tables and
their migration (`db`), API keys (`security`) and the errors it raises on purpose (`errors`).
Nothing here imports the web layer, the job store or the job runner."""
