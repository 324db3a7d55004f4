"""Writes the HDF5 files that ParameterFileTests load, laid out as PuzzleLib's Module.save writes
a module's parameters: a group "params" of datasets "0", "1", ... (gzip-compressed, in the
"earliest" file format) and a group "links" of scalar integers "{module name}.{parameter}" naming
them. Needs numpy and h5py; run it from this folder: python3 make_puzzlelib_files.py
"""
import h5py
import numpy as np


def save(path, modules, link_type=int):
    """modules: (module name, {parameter name: array}) pairs, saved one after another into one
    file, as PuzzleLib's Module.save does when it is handed an open file. PuzzleLib stores each
    link as a Python int, which h5py writes as numpy's default integer: link_type stands in for
    the platforms where that is not int64."""
    with h5py.File(path, "w", libver="earliest") as hdf:
        params, links = hdf.require_group("params"), hdf.require_group("links")
        for name, variables in modules:
            for parameter, data in variables.items():
                idx = len(params)
                params.create_dataset(str(idx), data=data, compression="gzip")
                links["%s.%s" % (name, parameter)] = link_type(idx)


W = (np.arange(6, dtype=np.float32) / 4).reshape(2, 3)  # 0, 0.25, ..., 1.25: exact in float32
b = np.array([0.5, -1.0, 2.0], dtype=np.float32)

# Linear(2, 3, name="lin")
save("linear-2x3-lin.hdf", [("lin", {"W": W, "b": b})])
# The tutorial's neuron restored, Linear(1, 1) without a name: links ".W" and ".b"
save("neuron-unnamed.hdf", [("", {"W": np.array([[2.0]], np.float32), "b": np.array([3.0], np.float32)})])
# Two layers in one file: "first" 2 -> 3 and "second" 3 -> 1
save("two-layers.hdf", [("first", {"W": W, "b": b}),
                        ("second", {"W": np.array([[1.0], [-2.0], [0.125]], np.float32),
                                    "b": np.array([-0.5], np.float32)})])
# Float16 values, which convert to float32 without loss
save("linear-2x3-lin-float16.hdf", [("lin", {"W": W.astype(np.float16), "b": b.astype(np.float16)})])
# Float64 values, which PuzzleLib also refuses to narrow
save("linear-2x3-lin-float64.hdf", [("lin", {"W": W.astype(np.float64), "b": b.astype(np.float64)})])
# Links as int32: numpy's default integer on Windows before numpy 2
save("linear-2x3-lin-int32-links.hdf", [("lin", {"W": W, "b": b})], link_type=np.int32)
