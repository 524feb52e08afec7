"""External-task workers: the runtime that speaks Camunda 7's protocol (`workers.runtime`) and the
partnership's handlers, one module per topic (`workers.handlers`).

A worker is a remote client of the engine, even when it runs inside the server process: nothing in
here imports `engine`, `api`, SQLAlchemy or SpiffWorkflow.
"""
