"""Write a GeoPackage's big layers in a second process while the run goes on.

GDAL writes a GeoPackage with Python's GIL held (pyogrio), so nothing else of a run, such as building the HTML
map, can go on in a thread beside it (measured in docs/performance.md); a second process can. :func:`start`
starts the worker process early, so it has imported its libraries by the time there is work; the run
stages each big layer (its rows as Arrow record batches, the geometry as WKB or, for points, as coordinates) in an
Arrow IPC stream file with :func:`stage` and hands it over with :meth:`Worker.send` (one JSON line on the
worker's standard input), so the worker writes one layer while the next is staged. The worker streams each file
into the GeoPackage with ``pyogrio.write_arrow`` (one batch in memory at a time) and deletes it;
:meth:`Worker.wait` raises :class:`WorkerError` with the worker's one-line message when it failed, and a worker
whose run stopped (its standard input closed early) stops too. A small run writes the same staged layers in
its own process (:func:`write_staged`): starting Python would cost more than it saves.

The worker imports numpy, pyarrow and pyogrio only (``import access15`` loads nothing else): about
0.4 s to start; 0.15 GB of libraries, and about 0.18 GB at 5M and 10M edges while GDAL writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyogrio

from .wkb import points


@dataclass
class StagedLayer:
    """A layer staged for the GeoPackage: ``path`` (an Arrow IPC stream file of its rows, the WKB geometry in the
    column ``geometry``), its OGR ``geometry_type`` and ``crs`` (WKT), and GDAL layer creation options."""

    layer: str
    path: str
    geometry_type: str
    crs: str
    layer_options: dict[str, str] = field(default_factory=dict)
    #: a layer of points staged as coordinates: the columns :data:`X`, :data:`Y` (in ``crs``) instead of a WKB
    #: geometry, whose WKB is made by whoever writes the layer
    points: bool = False


#: The coordinate columns of a layer of points staged without geometry (see :attr:`StagedLayer.points`).
X, Y = "__x", "__y"


class WorkerError(OSError):
    """The worker could not write the GeoPackage (its message: the first line of what GDAL or Python said)."""


def stage(path: str | Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> None:
    """Write ``batches`` (of ``schema``) to ``path`` as an Arrow IPC stream, one batch at a time."""
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)


@contextmanager
def gdal_options(options: dict[str, str]) -> Iterator[None]:
    """Set GDAL configuration options for the block, then restore what was there."""
    before = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(before)


def write_staged(gpkg: str | Path, layers: list[StagedLayer], options: dict[str, str]) -> None:
    """Stream each staged layer into ``gpkg`` (in order, one record batch in memory at a time) and delete its
    file; GDAL configuration ``options`` apply meanwhile."""
    with gdal_options(options):
        for staged in layers:
            _write(gpkg, staged)


def _write(gpkg: str | Path, staged: StagedLayer) -> None:
    """One staged layer into ``gpkg``; its file is deleted."""
    with pa.OSFile(staged.path, "rb") as source:
        reader = pa.ipc.open_stream(source)
        if staged.points:
            reader = _points(reader)
        pyogrio.write_arrow(reader, gpkg, layer=staged.layer, driver="GPKG", geometry_name="geometry",
                            geometry_type=staged.geometry_type, crs=staged.crs,
                            layer_options=staged.layer_options or None)
    os.unlink(staged.path)


def _points(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """``reader``'s batches with the coordinate columns :data:`X`, :data:`Y` replaced by a WKB ``geometry``
    column of those points."""
    names = [n for n in reader.schema.names if n not in (X, Y)]
    schema = pa.schema([reader.schema.field(n) for n in names] + [pa.field("geometry", pa.binary())])

    def batches():
        for batch in reader:
            wkb = points(np.column_stack([batch.column(X).to_numpy(), batch.column(Y).to_numpy()]))
            yield pa.record_batch([batch.column(n) for n in names] + [wkb], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


@dataclass
class Worker:
    """A running worker (see :func:`start`)."""

    process: subprocess.Popen

    def send(self, staged: StagedLayer) -> None:
        """Hand over a staged layer: the worker writes it when it has written those sent before."""
        try:
            self.process.stdin.write((json.dumps(asdict(staged)) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:  # the worker has stopped: say why
            self.wait()
            raise WorkerError("the GeoPackage worker stopped") from None

    def wait(self) -> None:
        """Tell the worker that every layer was sent, wait for it to finish; raise :class:`WorkerError` if it
        failed."""
        try:
            self.process.stdin.write(DONE)
        except (BrokenPipeError, ValueError):  # it has stopped already, or was told
            pass
        _, err = self.process.communicate()
        if self.process.returncode != 0:
            lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
            raise WorkerError(lines[-1] if lines else f"the GeoPackage worker stopped ({self.process.returncode})")

    def stop(self) -> None:
        """Kill the worker if it still runs (the run failed or was interrupted) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stderr):
            if pipe is not None:
                pipe.close()


#: How the worker starts (``python -c BOOT PACKAGE GPKG OPTIONS``): the working folder off ``sys.path``, then the
#: package ``access15`` loaded from PACKAGE, the folder of the run's own access15 (not whichever copy is
#: installed), then :func:`main`.
BOOT = ("import importlib.util, os, sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
        "pkg = sys.argv.pop(1); spec = importlib.util.spec_from_file_location("
        "'access15', os.path.join(pkg, '__init__.py'), submodule_search_locations=[pkg]); "
        "sys.modules['access15'] = module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
        "from access15.gpkg_worker import main; sys.exit(main(sys.argv[1:]))")

#: The last line a run sends its worker: every layer was sent.
DONE = b'{"done": true}\n'


def start(gpkg: str | Path, options: dict[str, str]) -> Worker | None:
    """Start a worker that will write the layers :meth:`Worker.send` hands it into ``gpkg``, with GDAL
    configuration ``options``; None when no Python interpreter can be started (access15 embedded in another
    program, such as QGIS, whose ``sys.executable`` is that program): the run then writes the layers itself."""
    exe = Path(sys.executable or "")
    if not exe.name.lower().startswith("python") or not exe.is_file():
        return None
    # this very access15 (installed or not, whatever else is installed), and no module of the working folder (a
    # user's json.py, say) in place of a library's
    cmd = [str(exe), "-c", BOOT, str(Path(__file__).resolve().parent), str(gpkg), json.dumps(options)]
    try:
        return Worker(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE))
    except OSError:
        return None


def main(argv: list[str]) -> int:
    """The worker (see :data:`BOOT`): arguments GPKG and OPTIONS_JSON, one staged layer per line of standard
    input until :data:`DONE`; exit status 1 and one line on stderr on failure, or when the input ends first (the
    run stopped)."""
    try:
        with gdal_options(json.loads(argv[1])):
            for line in sys.stdin.buffer:
                if line == DONE:
                    break
                _write(argv[0], StagedLayer(**json.loads(line)))
            else:
                raise EOFError("the run stopped before it had sent every layer")
    except Exception as exc:  # noqa: BLE001 - reported to the run as one line
        print(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 1
    _report_peak()
    return 0


def _report_peak() -> None:
    """With ``ACCESS15_WORKER_STATS=FILE`` (the benchmark sets it), append the worker's peak resident memory
    (``VmHWM`` of Linux, MB) to FILE as a JSON line. (``getrusage`` cannot tell it: the fork that starts a
    process counts the parent's pages until ``exec``.)"""
    path = os.environ.get("ACCESS15_WORKER_STATS")
    if not path:
        return
    try:
        status = Path("/proc/self/status").read_text()
        kb = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM:")))
    except (OSError, StopIteration, ValueError):
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"peak_mb": kb / 1024}) + "\n")
