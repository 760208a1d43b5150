"""The job store: every read and state change of the rows in `service.core.db`, by concern.

- `submissions`: queueing a job within the queue's bounds, once per idempotency key;
- `idempotency`: the `Idempotency-Key` records that submissions and uploads share;
- `jobs`: a caller's jobs (get, list, cancel, delete) and the dispatcher's reads of them;
- `claims`: moving the oldest eligible queued job to running;
- `lifecycle`: what a running attempt records (start, progress, its end, a retry, a release);
- `uploads`: uploaded files' rows, within the owner's quota;
- `dispatchers`: the dispatchers' rows and heartbeats;
- `retention`: removing what is past its retention;
- `stats`: the aggregates `/metrics` reports.

Every function takes a `Session`. The job side (`claims`, `lifecycle`, `dispatchers`,
`retention`) leaves the transaction to its caller, which opens it with `transaction`. The
API's submissions, uploads and cancellations end their own transactions: each takes a
`service_locks` row as its transaction's first write (`locks.lock`), or answers a lost race on
an idempotency key by rolling back and reading the winner's row.

Each state change is a conditional `UPDATE ... WHERE status = ...` whose row count says
whether it won, so the API, any number of dispatchers and the job processes can race on the
same row safely. Writes from a job process also name the attempt they belong to, so a process
left over from an earlier attempt can never overwrite a newer one.
"""
