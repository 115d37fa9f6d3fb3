"""Run the article graph on a Dask cluster: Beam's DaskRunner, with the limits of Beam 2.77's fixed.

    newsmon replay seeds/ --runner dask --dask-address tcp://scheduler:8786

Beam's DaskRunner (``apache_beam.runners.dask``) translates a pipeline into
``dask.bag`` operations. In Beam 2.77 it cannot run newsmon's graph as it is,
for four reasons, each measured and checked by
``tests/pipeline/test_dask_runner.py::test_beam_dask_runner_still_has_the_limits``
(it fails when a Beam release fixes one, so this module can shrink):

1. **Only the last leaf runs.** ``run_pipeline`` computes the bag of the last
   transform it visited; a graph with several sinks (the streams writer and a
   dead-letter writer per step) runs one branch and silently skips the others.
   Here every leaf (a PCollection no transform reads) is computed, in one
   ``client.compute`` so shared steps run once.
2. **Tagged outputs are mixed.** A ParDo with ``with_outputs`` gives every
   consumer the whole bag of every output: dead letters would flow into the
   next step as articles. Here each output PCollection gets only its own tag.
3. **What finish_bundle emits is lost.** Outputs are collected before
   ``finish_bundle`` runs, so the last NER batch of every partition vanished.
   Here they are collected after it.
4. **Reshuffle does nothing**, and ``beam.Create`` puts up to 128 elements in one
   partition: a replay of a few files ran on one worker. Here Reshuffle
   repartitions to ``--dask_npartitions`` (default: two per worker thread).

Also: ``result.metrics()`` raises NotImplementedError (newsmon's commands count
from Redis instead, pipeline/commands/run_summary.py), and ``--runner DaskRunner``
by short name is refused by Beam (``dask``, ``DaskRunner`` and the full class path
all select this runner, see :func:`is_dask_runner`). A scheduler that does not
answer is RunnerUnavailable (exit 3) after ``--dask_connection_timeout`` seconds.

Workers need newsmon and its spaCy model installed (the same wheel); they read
no local files: archives are read by the submitting process (connectors/archive.py).
"""

import functools
import logging

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, Receiver, _OutputHandler
from apache_beam.runners.runner import PipelineResult, PipelineRunner, PipelineState
from apache_beam.transforms.sideinputs import SideInputMap
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.errors import RunnerUnavailable, UsageError

__all__ = ["BEAM_DASK_LIMITS", "DASK_RUNNER_NAMES", "DEFAULT_CONNECT_SECONDS", "NewsmonDaskRunner", "is_dask_runner"]

_log = logging.getLogger(__name__)

# The Beam versions whose DaskRunner has the four limits above (the test checks them).
BEAM_DASK_LIMITS = ("2.77.",)
DASK_RUNNER_NAMES = ("dask", "DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner")
DEFAULT_CONNECT_SECONDS = 10
PARTITIONS_PER_THREAD = 2


def is_dask_runner(name):
    return name in DASK_RUNNER_NAMES or (name or "").lower() == "dask"


def _windowed(item):
    return item if isinstance(item, WindowedValue) else WindowedValue(item, 0, (GlobalWindow(),))


class _Collect(Receiver):
    """Collects one output tag's windowed values as ``(tag, value)`` pairs."""

    def __init__(self, tag, out):
        self.tag = tag
        self.out = out

    def receive(self, windowed_value):
        self.out.append((self.tag, windowed_value))


class _TagReceivers(dict):
    def __init__(self, out):
        super().__init__()
        self.out = out

    def __missing__(self, tag):
        receiver = self[tag] = _Collect(tag, self.out)
        return receiver


def _run_dofn_on_partition(items, transform, side_inputs):
    """One partition is one bundle: setup, start, process each element, finish, teardown.
    Returns ``[(tag, windowed value), ...]`` of every output, finish_bundle's included."""
    out = []
    receivers = _TagReceivers(out)
    args, kwargs = transform.raw_side_inputs
    handler = _OutputHandler(window_fn=None, main_receivers=receivers[None], tagged_receivers=receivers,
                             per_element_output_counter=None, output_batch_converter=None,
                             process_yields_batches=False, process_batch_yields_elements=False)
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(transform.fn), handler, context=DoFnContext(transform.label, state=None),
        side_inputs=side_inputs, input_args=list(args), input_kwargs=kwargs, user_state_context=None,
        bundle_finalizer_param=beam.DoFn.BundleFinalizerParam())
    invoker.invoke_setup()
    try:
        invoker.invoke_start_bundle()
        for item in items:
            invoker.invoke_process(_windowed(item))
        invoker.invoke_finish_bundle()
    finally:
        invoker.invoke_teardown()
    return out


def _has_tag(tag, pair):
    return pair[0] == tag


def _value(pair):
    return pair[1]


def _count(items):
    return [sum(1 for _ in items)]


class _WindowedIterable:
    """A side input's bag as windowed values, for SideInputMap."""

    def __init__(self, bag):
        self.bag = bag

    def __iter__(self):
        for item in self.bag.compute():
            yield _windowed(item)


class _BagVisitor(PipelineVisitor):
    """Every PCollection of the pipeline as a dask bag; ``leaves()`` are those nothing reads."""

    def __init__(self, npartitions):
        self.npartitions = npartitions
        self.bags = {}  # PCollection -> dask bag
        self.read = set()

    def visit_transform(self, node):
        from apache_beam.runners.dask.overrides import _Create, _Flatten, _GroupByKeyOnly, _Reshuffle

        inputs = [self.bags[i] for i in node.inputs if not isinstance(i, pvalue.PBegin) and i in self.bags]
        self.read.update(id(i) for i in node.inputs)
        transform = node.transform
        if isinstance(transform, _Create):
            import dask.bag as db

            values = list(transform.values)
            bag = db.from_sequence(values, npartitions=max(1, min(len(values), self.npartitions)))
            self._set(node, bag)
        elif isinstance(transform, beam.ParDo):
            side_inputs = [SideInputMap(type(si), si._view_options(), _WindowedIterable(self.bags[si.pvalue]))
                           for si in node.side_inputs]
            results = inputs[0].map_partitions(_run_dofn_on_partition, transform, side_inputs or None)
            for tag, pcoll in node.outputs.items():
                self.bags[pcoll] = results.filter(functools.partial(_has_tag, tag)).map(_value)
        elif isinstance(transform, _Reshuffle):
            self._set(node, inputs[0].repartition(npartitions=self.npartitions))
        elif isinstance(transform, _Flatten):
            import dask.bag as db

            self._set(node, db.concat(inputs))
        elif isinstance(transform, _GroupByKeyOnly):
            self._set(node, inputs[0].map(_unwindow).groupby(_key).map(_grouped))
        elif inputs:
            self._set(node, inputs[0])  # a transform with nothing to do on a bag (e.g. Impulse's output)

    def _set(self, node, bag):
        for pcoll in node.outputs.values():
            self.bags[pcoll] = bag

    def leaves(self):
        return [bag for pcoll, bag in self.bags.items() if id(pcoll) not in self.read]


def _unwindow(item):
    return item.value if isinstance(item, WindowedValue) else item


def _key(item):
    return item[0]


def _grouped(group):
    key, values = group
    return key, [v[1] for v in values]


class DaskRunResult(PipelineResult):
    """The finished (or failed) computation of every leaf. Counts are in Redis, not here."""

    def __init__(self, client, futures):
        super().__init__(PipelineState.RUNNING)
        self.client = client
        self.futures = futures

    def wait_until_finish(self, duration=None):
        import dask.distributed as ddist
        from distributed.comm.core import CommClosedError

        try:
            for _ in ddist.as_completed(self.futures, with_results=True,
                                        timeout=None if duration is None else duration / 1000):
                pass
            self._state = PipelineState.DONE
        except ddist.KilledWorker as error:
            self._state = PipelineState.FAILED
            raise RunnerUnavailable(f"Dask workers died running the job ({' '.join(str(error).split())[:200]});"
                                    " rerun it: nothing is written twice") from error
        except (CommClosedError, ddist.CancelledError) as error:
            self._state = PipelineState.FAILED
            raise RunnerUnavailable(f"lost the Dask scheduler during the job ({type(error).__name__});"
                                    " rerun it: nothing is written twice") from error
        except BaseException:
            self._state = PipelineState.FAILED
            raise
        finally:
            self.client.close()
        return self._state

    def cancel(self):
        self.client.cancel(self.futures)
        self._state = PipelineState.CANCELLED
        return self._state

    def metrics(self):
        raise NotImplementedError("the Dask runner keeps no metrics: newsmon counts in Redis")


class NewsmonDaskRunner(PipelineRunner):
    """Beam's DaskRunner with every leaf computed, tagged outputs kept apart, finish_bundle's
    outputs kept and Reshuffle spreading the work (see the module's docstring)."""

    def run_pipeline(self, pipeline, options):
        import dask
        import dask.distributed as ddist
        from apache_beam.runners.dask.dask_runner import DaskOptions
        from apache_beam.runners.dask.overrides import dask_overrides

        dask_options = options.view_as(DaskOptions).get_all_options(drop_default=True, current_only=True)
        npartitions = dask_options.pop("npartitions", None)
        dask_options.pop("partition_size", None)
        dask_options.setdefault("timeout", DEFAULT_CONNECT_SECONDS)
        address = dask_options.get("address") or dask_options.get("scheduler_file")
        if not address:
            raise UsageError("the Dask runner needs a scheduler: --dask-address tcp://HOST:8786")
        try:
            client = ddist.Client(**dask_options)
        except (OSError, TimeoutError) as error:
            raise RunnerUnavailable(f"no Dask scheduler at {address} answered within"
                                    f" {dask_options['timeout']} s") from error
        threads = sum(client.nthreads().values())
        if not threads:
            client.close()
            raise RunnerUnavailable(f"the Dask scheduler at {address} has no workers")
        pipeline.replace_all(dask_overrides())
        visitor = _BagVisitor(npartitions or PARTITIONS_PER_THREAD * threads)
        pipeline.visit(visitor)
        leaves = [leaf.map_partitions(_count) for leaf in visitor.leaves()]
        _log.info("newsmon: Dask: %d leaves on %d worker threads, %d partitions",
                  len(leaves), threads, visitor.npartitions)
        futures = client.compute(dask.optimize(*leaves))
        return DaskRunResult(client, futures)
