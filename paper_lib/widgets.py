"""The interactive explorer (ipywidgets + nglview 3.1.4) over the shipped sample or a preset's results.

Choose a class, a structure, a defect kind and level; see the structure in 3D, its fingerprint, the
network's probabilities, and the attentive response maps (layer and filter, or the class map). Works
in JupyterLab 4, Voila and on Binder. By default it opens the sample shipped in the package
(:data:`SAMPLE`: 63 fingerprints of the robust preset that the shipped model did not train on) with
the shipped model; its ``model`` control switches to another shipped model that has a sample of its
own (:data:`SAMPLES`), with that sample. Given a preset, it reads ``results/<preset>/`` (structures,
fingerprints; the model there, or the shipped one)::

    from paper_lib.widgets import Explorer
    Explorer().widget                 # the shipped sample and model
    Explorer(model="extended").widget # the extended model on its own sample
    Explorer("quick").widget          # results/quick/ (after `make figures`)
"""
from __future__ import annotations

import html
import io
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .interpret import TOP_K, class_response_maps, conv_layers, response_maps
from .plotting import response_rgb, fingerprint_rgb

CLASS_MAP = "class map"
LAYER_SUM = "sum"

#: The explorer's shipped sample: ``structures.db`` and ``fingerprints.h5`` of 21 pristine structures
#: of the robust preset (3 per class) that the shipped model held out from training, each with one
#: displaced and one vacancy variant (``scripts/make_explorer_sample.py``; its attribute ``sample``
#: records the source, the seed and the rule).
SAMPLE = Path(__file__).with_name("data") / "explorer"

#: The shipped samples, by the name of the shipped model (:data:`paper_lib.model.SHIPPED_MODELS`)
#: they were written for: fingerprints made with that model's parameters, of structures it held out
#: from training (``scripts/make_explorer_sample.py --model NAME``). The explorer's ``model`` control
#: offers the shipped models whose model file and sample both exist (:func:`shipped_samples`); the
#: paper2018 model has none (its fingerprints are made otherwise than the robust sample's).
SAMPLES = {"robust": SAMPLE, "extended": SAMPLE.with_name("explorer_extended")}

#: Width (px) of the longest probability bar (p = 1).
BAR_PX = 120


@dataclass(frozen=True)
class FingerprintIndex:
    """Where each fingerprint of a results folder lies: a table with ``file`` (HDF5), ``position``
    (row in it), ``db`` (the structure database, resolved), ``row_id`` (row in that database),
    ``sid``, ``label``, ``defect``, ``level`` (%)."""

    table: pd.DataFrame

    @classmethod
    def of(cls, results: str | Path, root: str | Path | None = None) -> "FingerprintIndex":
        """The index of ``results/fingerprints/shard-*.h5`` (a workflow's results), or of
        ``results/fingerprints.h5`` (one file, as in :data:`SAMPLE`). A file's structure database
        is its ``source`` attribute: an absolute path, or a path relative to ``root`` (the
        repository, for the workflow's files) or to ``results``."""
        from .io import read_fingerprints

        results = Path(results)
        files = sorted((results / "fingerprints").glob("shard-*.h5"))
        if not files and (results / "fingerprints.h5").is_file():
            files = [results / "fingerprints.h5"]
        if not files:
            raise FileNotFoundError(f"{results}: no fingerprint shards (fingerprints/shard-*.h5) and no "
                                    f"fingerprints.h5; run the workflow first (make figures)")
        parts = []
        for path in files:
            meta = read_fingerprints(path, with_fingerprints=False)
            db = _database(meta["attrs"].get("source", ""), results, root)
            parts.append(pd.DataFrame({"file": str(path), "position": np.arange(len(meta["row_id"])),
                                       "db": str(db), "row_id": meta["row_id"],
                                       "sid": meta["sid"], "label": meta["label"], "defect": meta["defect"],
                                       "level": meta["level"]}))
        return cls(pd.concat(parts, ignore_index=True))

    def fingerprint(self, i: int) -> np.ndarray:
        """The (64, 64, 3) fingerprint of entry ``i``."""
        import h5py

        row = self.table.iloc[i]
        with h5py.File(row["file"], "r") as h5:
            return h5["fingerprints"][int(row["position"])]

    def atoms(self, i: int):
        """The structure (ase.Atoms, lengths in Å) of entry ``i``, from its database (opened
        read-only: the shipped sample may lie in a read-only site-packages)."""
        from .io import open_database

        row = self.table.iloc[i]
        return open_database(row["db"]).get(id=int(row["row_id"])).toatoms()


def shipped_samples() -> dict[str, Path]:
    """The shipped models the explorer offers, by name (in the order of
    :data:`paper_lib.model.SHIPPED_MODELS`), each with its sample folder: those of :data:`SAMPLES`
    whose model file and ``fingerprints.h5`` both exist."""
    from .model import SHIPPED_MODELS

    return {name: SAMPLES[name] for name, path in SHIPPED_MODELS.items()
            if name in SAMPLES and Path(path).is_file() and (SAMPLES[name] / "fingerprints.h5").is_file()}


def _shipped_name(model: str | Path | None) -> str | None:
    """The name in :data:`paper_lib.model.SHIPPED_MODELS` of ``model`` (``None``: the default shipped
    model; a name; or the path of a shipped model's file), or ``None`` for any other model file."""
    from .model import SHIPPED_MODEL, SHIPPED_MODELS

    path = SHIPPED_MODEL if model is None else SHIPPED_MODELS.get(str(model), Path(model))
    for name, shipped in SHIPPED_MODELS.items():
        if Path(shipped) == path or (path.exists() and Path(shipped).exists()
                                     and Path(shipped).resolve() == path.resolve()):
            return name
    return None


def check_sample(folder: str | Path, loaded) -> dict:
    """The ``sample`` record (JSON attribute, see ``scripts/make_explorer_sample.py``) of the
    sample in ``folder``, after checking that its fingerprints were made with the parameters of
    ``loaded`` (a :class:`paper_lib.model.LoadedModel`); raises
    :class:`paper_lib.model.ModelError` naming the sample and the model otherwise."""
    from .io import read_fingerprints
    from .model import check_fingerprint_params

    path = Path(folder) / "fingerprints.h5"
    attrs = read_fingerprints(path, with_fingerprints=False)["attrs"]
    check_fingerprint_params({k: v for k, v in loaded.fingerprint.items() if k != "target_atoms"},
                             json.loads(attrs.get("fingerprint", "{}")),
                             f"the explorer sample {path} does not fit the model {loaded.path}")
    return json.loads(attrs.get("sample", "{}"))


def _database(source: str, results: Path, root: str | Path | None) -> Path:
    """The structure database a fingerprint file names (see :meth:`FingerprintIndex.of`)."""
    source = Path(source)
    if source.is_absolute():
        return source
    candidates = ([Path(root) / source] if root else []) + [results / source, results / source.name]
    return next((c for c in candidates if c.is_file()), candidates[0])


def _png(image: np.ndarray, scale: int = 4) -> bytes:
    """PNG bytes of an RGB float image in [0, 1] or uint8, each pixel ``scale`` x ``scale``."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def probability_html(probabilities: dict[str, float], true_label: str | None = None) -> str:
    """An HTML bar chart of class probabilities (the true class in bold), highest first: class name,
    a bar of ``BAR_PX`` px at p = 1, the probability. Its width is fixed (no cell wraps), so the
    explorer can reserve it (:data:`PREDICTION_PX`)."""
    rows = []
    for label, p in sorted(probabilities.items(), key=lambda kv: -kv[1]):
        name = f"<b>{html.escape(label)}</b>" if label == true_label else html.escape(label)
        rows.append(f"<tr><td class='paperlib-class' style='padding:0 6px 0 0;width:64px'>{name}</td>"
                    f"<td style='padding:0;width:{BAR_PX}px'><div style='background:#333;height:12px;"
                    f"width:{max(p, 0.002) * BAR_PX:.1f}px'></div></td>"
                    f"<td class='paperlib-probability' style='padding:0 0 0 6px;font-family:monospace'>{p:.3f}</td>"
                    f"</tr>")
    return ("<table class='paperlib-probabilities' style='white-space:nowrap;border-collapse:collapse'>"
            + "".join(rows) + "</table>")


#: Width (px) reserved for the prediction box: class names (bct_141 in bold), the bars, "0.000".
PREDICTION_PX = 64 + 6 + BAR_PX + 6 + 56 + 8


class Explorer:
    """The explorer widget over the shipped sample (the default: :data:`SAMPLE` with the shipped
    model), or over ``results/<preset>/`` of the repository (``results`` overrides the folder).

    ``model``: a model file or a shipped model's name (default: the results folder's
    ``model.keras`` if present, else the shipped model). Without a preset or results folder, a
    shipped model's name opens that model on its own sample (:data:`SAMPLES`; ``ValueError`` if it
    has none), and the ``model`` control (``self.picker``) switches between the shipped models that
    have one (:func:`shipped_samples`), reloading the sample, the model, its layers and its classes.
    Given a results folder or a model file of your own, the control shows that one model only
    (disabled). A sample whose fingerprint parameters are not the model's is refused
    (:class:`paper_lib.model.ModelError` naming both; a results folder is not checked).

    The widget is ``self.widget``; ``self.state()`` tells what is shown (for tests). TensorFlow's
    start-up log lines are kept out of the notebook (:func:`paper_lib.quiet.import_tensorflow`;
    set ``TF_CPP_MIN_LOG_LEVEL=0`` to see them).
    """

    def __init__(self, preset: str | None = None, results: str | Path | None = None, model: str | Path | None = None,
                 root: str | Path | None = None, top_k: int = TOP_K, viewer: bool = True):
        import ipywidgets as w

        from .quiet import import_tensorflow

        import_tensorflow()
        from .paths import Layout
        from .plotting import repository_root

        self.top_k = top_k
        self._busy = False
        name = _shipped_name(model)
        if preset is None and results is None:       # a shipped sample
            self.root = Path(root) if root else None
            samples = shipped_samples()
            if name is None:                          # a model file of one's own, on the robust sample
                choices, current, fixed = [str(model)], str(model), True
                self._open(SAMPLE, model, str(model))
            elif name in samples:                     # any shipped model with a sample of its own
                choices, current, fixed = list(samples), name, False
                self._open_shipped(name)
            else:
                raise ValueError(f"the shipped model {name!r} has no explorer sample (paper_lib.widgets.SAMPLES; "
                                 f"those with one: {', '.join(samples) or 'none'}); give results= a folder of "
                                 f"fingerprints made with its parameters")
        else:
            if root is None and results is not None:     # a results folder of its own: paths from here
                try:
                    root = repository_root()
                except FileNotFoundError:
                    root = Path.cwd()
            self.root = Path(root) if root else repository_root()
            folder = Path(results) if results else Layout(preset, self.root).results
            own = folder / "model.keras"
            model = model if model else (own if own.exists() else None)
            name = _shipped_name(model)
            current = name if name is not None else str(model)
            choices, fixed = [current], True
            self._open(folder, model, f"the shipped model ({name})" if name is not None else str(model),
                       str(folder), check=False)
        style = {"description_width": "70px"}
        self.cls = w.Dropdown(options=self.classes, description="class", style=style)
        self.structure = w.IntSlider(min=0, max=0, description="structure", style=style, continuous_update=False)
        self.defect = w.Dropdown(options=[], description="defect", style=style)
        self.level = w.Dropdown(options=[], description="level (%)", style=style)
        self.layer = w.Dropdown(options=self.layers + [CLASS_MAP], value=self.layers[-1], description="layer",
                                style=style)
        self.filter = w.Dropdown(options=[LAYER_SUM], description="filter", style=style)
        self.picker = w.Dropdown(options=choices, value=current, description="model", style=style,
                                 disabled=fixed or len(choices) < 2)
        self.fingerprint_image = w.Image(format="png", width=256, height=256)
        self.map_image = w.Image(format="png", width=256, height=256)
        self.probabilities = w.HTML(layout=w.Layout(min_width=f"{PREDICTION_PX}px", overflow="visible"))
        self.status = w.HTML(layout=w.Layout(min_width=f"{PREDICTION_PX}px", overflow="visible"))
        self.viewer = None
        if viewer:
            import nglview

            self.viewer = nglview.NGLWidget()
            # the widget resizes its stage's canvas when its layout's width or height change
            self.viewer.layout.min_width = "360px"
            self.viewer.layout.width, self.viewer.layout.height = "360px", "300px"
        self._maps = None
        self._current = None
        self.cls.observe(self._on_class, "value")
        self.structure.observe(self._on_structure, "value")
        self.defect.observe(self._on_defect, "value")
        self.level.observe(lambda _: self._show(), "value")
        self.layer.observe(self._on_layer, "value")
        self.filter.observe(lambda _: self._draw_map(), "value")
        self.picker.observe(self._on_model, "value")
        # the model control comes last: the class is the first control (and the first <select>)
        controls = w.VBox([self.cls, self.structure, self.defect, self.level, self.layer, self.filter, self.picker],
                          layout=w.Layout(flex="0 0 auto", overflow="visible"))

        # ipywidgets boxes are flex containers with overflow auto. The prediction used to be the
        # fourth view in a row of 370 + 256 + 256 + ~290 px: in an output area narrower than that
        # (JupyterLab at 1280 px beside its file browser: 848 px) the row shrank its last box and
        # clipped the probabilities. It now sits under the verdict beside the controls, every box
        # keeps its width, and rows that do not fit wrap instead of clipping.
        def titled(title, child, width):
            return w.VBox([w.HTML(f"<b>{title}</b>"), child],
                          layout=w.Layout(flex="0 0 auto", min_width=f"{width}px", overflow="visible"))

        verdict = w.VBox([self.status, titled("prediction", self.probabilities, PREDICTION_PX)],
                         layout=w.Layout(flex="0 0 auto", overflow="visible", margin="0 0 0 16px"))
        views = [titled("fingerprint", self.fingerprint_image, 260), titled("response map", self.map_image, 260)]
        if self.viewer is not None:
            views.insert(0, titled("structure", self.viewer, 370))
        row = dict(flex_flow="row wrap", align_items="flex-start", overflow="visible", width="100%")
        self.widget = w.VBox([w.HBox([controls, verdict], layout=w.Layout(**row)),
                              w.HBox(views, layout=w.Layout(**row))], layout=w.Layout(overflow="visible"))
        self.widget.add_class("paperlib-explorer")
        self._on_class()

    # -- data and model ----------------------------------------------------------------------
    def _open(self, folder: Path, model, model_name: str, source: str | None = None, check: bool = True):
        """Show ``model`` (a file, a shipped name or ``None``) on the fingerprints in ``folder``:
        load both (checking the sample's fingerprint parameters when ``check``), then set them.
        ``source`` names the data (default: the shipped sample, its preset, and whether it is
        held out from this model's training)."""
        from .model import load_model

        index = FingerprintIndex.of(folder, self.root)
        loaded = load_model(model)
        if check:
            sample = check_sample(folder, loaded)
            if source is None:
                mine = sample.get("model_training_digest") == loaded.metadata["training_data"].get("digest")
                source = (f"the shipped sample ({sample.get('preset', Path(folder).name)} preset, "
                          f"{'held out' if mine else 'made for another model'})")
        classes = [c for c in loaded.classes if (index.table["label"] == c).any()]
        if not classes:
            raise ValueError(f"{folder}: none of its fingerprints is of a class of the model {loaded.path} "
                             f"({', '.join(loaded.classes)})")
        self.results, self.index, self.model, self.classes = Path(folder), index, loaded, classes
        self.model_name, self.source = model_name, source
        self.layers = conv_layers(loaded)

    def _open_shipped(self, name: str):
        """Show the shipped model ``name`` on its shipped sample (:data:`SAMPLES`)."""
        self._open(SAMPLES[name], name, f"the shipped model ({name})")

    def _on_model(self, change):
        """The model control changed: load the shipped model and its sample, its layers and
        classes, and redraw. A pair that does not fit is refused, and the control goes back."""
        if self._busy:
            return
        try:
            self._open_shipped(change["new"])
        except Exception:
            with self._quiet():           # keep showing (and naming) what was shown before
                self.picker.value = change["old"]
            raise
        keep = self.layer.value
        with self._quiet():
            self.layer.options = self.layers + [CLASS_MAP]
            self.layer.value = keep if keep in self.layer.options else self.layers[-1]
            self.cls.options = self.classes
            self.cls.value = self.classes[0]
        self._on_class()

    # -- selection ---------------------------------------------------------------------------
    def _sids(self) -> np.ndarray:
        table = self.index.table
        return np.unique(table.loc[table["label"] == self.cls.value, "sid"])

    @contextmanager
    def _quiet(self):
        """Change several controls without their handlers redrawing in between (nested: the
        outermost one ends the quiet)."""
        before, self._busy = self._busy, True
        try:
            yield
        finally:
            self._busy = before

    def _on_class(self, _=None):
        if self._busy:
            return
        sids = self._sids()
        with self._quiet():
            self.structure.max = max(len(sids) - 1, 0)
            self.structure.value = 0
        self._on_structure()

    def _on_structure(self, _=None):
        if self._busy:
            return
        table = self.index.table
        sid = self._sids()[self.structure.value]
        kinds = [k for k in ("pristine", "vacancies", "displacements")
                 if ((table["sid"] == sid) & (table["defect"] == k)).any()]
        keep = self.defect.value if self.defect.value in kinds else kinds[0]
        with self._quiet():
            self.defect.options = kinds
            self.defect.value = keep
        self._on_defect()

    def _on_defect(self, _=None):
        if self._busy:
            return
        table = self.index.table
        sid = self._sids()[self.structure.value]
        levels = sorted(table.loc[(table["sid"] == sid) & (table["defect"] == self.defect.value), "level"])
        keep = self.level.value if self.level.value in levels else levels[0]
        with self._quiet():
            self.level.options = [float(v) for v in levels]
            self.level.value = float(keep)
        self._show()

    def _on_layer(self, _=None):
        if self._busy:
            return
        if self.layer.value == CLASS_MAP:
            options = [CLASS_MAP]
        else:
            self._maps = response_maps(self.model, self._fingerprint, self.layer.value, self.top_k)
            options = [LAYER_SUM] + [f"filter {f}" for f in self._maps.filters]
        with self._quiet():
            self.filter.options = options
            self.filter.value = options[0]
        self._draw_map()

    # -- drawing -----------------------------------------------------------------------------
    def _show(self):
        if self._busy:
            return
        from .model import predict_with_uncertainty

        table = self.index.table
        sid = self._sids()[self.structure.value]
        match = np.flatnonzero((table["sid"] == sid) & (table["defect"] == self.defect.value)
                               & (table["level"] == self.level.value))
        i = int(match[0])
        self._current = i
        self._fingerprint = self.index.fingerprint(i)
        self.fingerprint_image.value = _png(fingerprint_rgb(self._fingerprint, scale=1, gamma=0.5))
        summary, [(label, reason)] = predict_with_uncertainty(self.model, self._fingerprint[None])
        self._probabilities = dict(zip(self.model.classes, map(float, summary["probabilities"][0])))
        self._uncertainty = float(summary[self.model.decision.measure][0])
        self._label, self._reason = label, reason
        self.probabilities.value = probability_html(self._probabilities, self.cls.value)
        row = table.iloc[i]
        best = max(self._probabilities, key=self._probabilities.get)
        verdict = (f"predicted <b>{label}</b>" if reason is None
                   else f"predicted <b>{label}</b> (best guess {best}: {html.escape(reason)})")
        self.status.value = (f"<div>structure {int(row['sid'])} "
                             f"({row['label']}), {row['defect']} {row['level']:g} %<br>{verdict}<br>"
                             f"uncertainty {self._uncertainty:.3f} ({self.model.decision.measure}, "
                             f"{self.model.decision.method.replace('_', ' ')})<br>"
                             f"<span style='color:#666'>data: {html.escape(self.source)}<br>"
                             f"model: {html.escape(self.model_name)}</span></div>")
        if self.viewer is not None:
            self._show_atoms(self.index.atoms(i))
        self._on_layer()

    def _show_atoms(self, atoms):
        import nglview

        for component in list(self.viewer):
            self.viewer.remove_component(component)
        self.viewer.add_structure(nglview.ASEStructure(atoms))
        self.viewer.center()

    def _draw_map(self):
        if self._busy or self._current is None:
            return
        if self.layer.value == CLASS_MAP:
            c = self.model.classes.index(self.cls.value)
            image = class_response_maps(self.model, self._fingerprint, [c])[0]
        elif self.filter.value == LAYER_SUM:
            image = self._maps.total
        else:
            f = int(self.filter.value.split()[1])
            image = self._maps.maps[list(self._maps.filters).index(f)]
        self.map_image.value = _png(response_rgb(image))

    def state(self) -> dict:
        """What is shown: the model (the model control's value: a shipped model's name or a model
        file), selection, prediction and the entry in the index."""
        return {"model": self.picker.value, "class": self.cls.value, "structure": self.structure.value,
                "defect": self.defect.value, "level": self.level.value, "layer": self.layer.value,
                "filter": self.filter.value, "entry": self._current, "prediction": self._label,
                "best": max(self._probabilities, key=self._probabilities.get), "uncertainty": self._uncertainty}

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self):
        return f"Explorer({json.dumps(self.state())})"


#: uncertainty bins of :func:`local_view` (upper edges, in [0, 1]) and their colours, certain to unsure
UNCERTAINTY_BINS = ((0.05, "#1a9850"), (0.15, "#91cf60"), (0.3, "#fee08b"), (0.5, "#fc8d59"), (1.01, "#d73027"))


def local_view(atoms, by: str = "label", max_atoms: int = 20_000, thickness: float | None = None):
    """An nglview widget of a labelled sample (the output of ``classify-local`` or of
    :func:`paper_lib.local.write_local`): atoms as spheres coloured by their ``label`` (the colours of
    :data:`paper_lib.plotting.LOCAL_COLOURS`) or by their ``uncertainty`` (:data:`UNCERTAINTY_BINS`,
    green certain to red unsure): ``by`` names a per-atom array, of class names (``label``, ``truth``,
    ``cnn``, ``ptm``, ``acna``) or of numbers in [0, 1] (``uncertainty``, ``cnn_uncertainty``). A sample of more than ``max_atoms`` atoms is shown as the slab through the
    middle of its z range that holds about that many (``thickness`` Angstrom, if given, instead)."""
    import nglview
    import numpy as np

    from .plotting import LOCAL_COLOURS

    if by not in atoms.arrays:
        raise KeyError(f"the sample has no per-atom array {by!r}; it has {', '.join(sorted(atoms.arrays))}")
    z = atoms.positions[:, 2]
    if thickness is None and len(atoms) > max_atoms:
        thickness = (z.max() - z.min()) * max_atoms / len(atoms)
    shown = atoms[np.abs(z - (z.max() + z.min()) / 2) <= thickness / 2] if thickness else atoms
    view = nglview.NGLWidget()
    component = view.add_structure(nglview.ASEStructure(shown))
    component.clear_representations()
    if np.issubdtype(shown.arrays[by].dtype, np.number):        # an uncertainty in [0, 1]
        values = np.asarray(shown.arrays[by], dtype=float)
        low = -np.inf
        groups = []
        for high, colour in UNCERTAINTY_BINS:
            groups.append((np.flatnonzero((values > low) & (values <= high)), colour))
            low = high
    else:
        labels = np.asarray(shown.arrays[by]).astype(str)
        groups = [(np.flatnonzero(labels == label), LOCAL_COLOURS.get(label, "#000000"))
                  for label in np.unique(labels)]
    for index, colour in groups:
        if len(index):
            component.add_representation("spacefill", selection=index.tolist(), color=colour, radius=0.5)
    view.center()
    return view
