"""A real Dask cluster on 127.0.0.1 for the tests and the benchmarks: a scheduler and workers, each its own process.

    cluster = DaskCluster(directory, workers=2).start()   # free ports, workers in their own folder
    cluster.address                                       # tcp://127.0.0.1:PORT
    cluster.kill_worker(0); cluster.stop()

Each worker is a ``dask worker --no-nanny`` process of one thread (nothing restarts a
killed one), started in ``directory``, not the project's folder, as a worker on
another machine would be. The processes are this Python's, with newsmon installed.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.servers import free_port

__all__ = ["DaskCluster"]

START_SECONDS = 120  # a loaded 2-core machine takes a while to import distributed twice


def _dask_command():
    return [sys.executable, "-m", "dask"]  # what the ``dask`` command runs


class DaskCluster:
    def __init__(self, directory, *, workers=2, threads=1):
        self.directory = Path(directory)
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads
        self.scheduler = None
        self.worker_processes = []

    def _spawn(self, args, log_name):
        log = open(self.directory / log_name, "wb")  # noqa: SIM115 - closed with the process's end
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen([*_dask_command(), *args], cwd=self.directory, stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        self.scheduler = self._spawn(["scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--no-dashboard", "--no-show"], "scheduler.log")
        for index in range(self.workers):
            self.add_worker(index)
        self.wait_for_workers(self.workers)
        return self

    def add_worker(self, index=None):
        index = len(self.worker_processes) if index is None else index
        process = self._spawn(["worker", self.address, "--no-nanny", "--nthreads", str(self.threads),
                               "--no-dashboard", "--host", "127.0.0.1", "--name", f"w{index}",
                               "--local-directory", str(self.directory / f"w{index}")], f"worker{index}.log")
        self.worker_processes.append(process)
        return process

    def client(self, timeout=START_SECONDS):
        from distributed import Client

        return Client(self.address, timeout=timeout)

    def wait_for_workers(self, n, timeout=START_SECONDS):
        """Until ``n`` workers are registered (the scheduler may still be starting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.client(timeout=5) as client:
                    client.wait_for_workers(n, timeout=max(1, deadline - time.monotonic()))
                    return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline or self.scheduler.poll() is not None:
                    raise RuntimeError(f"the Dask cluster did not start: see {self.directory}/*.log") from None

    def kill_worker(self, index):
        """SIGKILL one worker: it does not say goodbye to the scheduler."""
        process = self.worker_processes[index]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self):
        for process in [*self.worker_processes, self.scheduler]:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)
        self.worker_processes = []
        self.scheduler = None
