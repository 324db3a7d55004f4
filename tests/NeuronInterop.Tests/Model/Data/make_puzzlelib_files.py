"""Writes the HDF5 files that ParameterFileTests load, laid out as PuzzleLib's Module.save writes
a module's parameters: a group "params" of datasets "0", "1", ... (gzip-compressed, in the
"earliest" file format) and a group "links" of scalar integers "{module name}.{parameter}" naming
them; and two files of the same layout in HDF5's newer format, whose metadata carries checksums.
Needs numpy and h5py; run it from this folder: python3 make_puzzlelib_files.py
"""
import h5py
import numpy as np


def create_earliest(path, user_block, sizes, track_order=False):
    """A new file of the earliest format. sizes: HDF5's sizes of file addresses and of lengths, in
    bytes (None: h5py's, 8 and 8). track_order: keep the root group's links in creation order."""
    if sizes is None:
        return h5py.File(path, "w", libver="earliest", userblock_size=user_block, track_order=track_order)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_sizes(*sizes)
    fcpl.set_userblock(user_block)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_LATEST)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl))


def save(path, modules, link_type=int, storage=lambda data: {"compression": "gzip"}, user_block=0, sizes=None,
         track_order=False):
    """modules: (module name, {parameter name: array}) pairs, saved one after another into one
    file, as PuzzleLib's Module.save does when it is handed an open file. PuzzleLib stores each
    link as a Python int, which h5py writes as numpy's default integer: link_type stands in for
    the platforms where that is not int64. storage: h5py's storage options for an array (gzip, as
    PuzzleLib's, by default). user_block: bytes before the HDF5 data, kept for other programs.
    sizes: see create_earliest. track_order: keep every group's links in creation order (h5py's
    track_order=True), for which HDF5 writes the groups' object headers in the newer format."""
    with create_earliest(path, user_block, sizes, track_order) as hdf:
        params, links = (hdf.create_group(name, track_order=True) if track_order else hdf.require_group(name)
                         for name in ("params", "links"))
        for name, variables in modules:
            for parameter, data in variables.items():
                idx = len(params)
                params.create_dataset(str(idx), data=data, **storage(data))
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
# Fletcher-32 checksums without compression, in chunks of one column (W in three chunks of 2 x 1, each
# spanning both rows; b in three chunks of 1)
save("linear-2x3-lin-fletcher32.hdf", [("lin", {"W": W, "b": b})],
     storage=lambda data: {"fletcher32": True, "chunks": data.shape[:-1] + (1,)})
# gzip after the shuffle filter, which h5py applies when asked (shuffle=True), as PuzzleLib does not
save("linear-2x3-lin-shuffle.hdf", [("lin", {"W": W, "b": b})], storage=lambda data: {"compression": "gzip", "shuffle": True})
# Addresses of 4 bytes and lengths of 8, which HDF5 allows and PureHDF cannot read in this format
save("linear-2x3-lin-sizes-4-8.hdf", [("lin", {"W": W, "b": b})], sizes=(4, 8))
# A user block of 1024 bytes before the HDF5 data: HDF5 then puts the superblock at byte 1024
save("linear-2x3-lin-user-block-1024.hdf", [("lin", {"W": W, "b": b})], user_block=1024)
# Links kept in creation order: the groups' object headers are of the newer format (with checksums), in a
# file of the earliest format whose datasets' headers are of the earlier one
save("linear-2x3-lin-track-order.hdf", [("lin", {"W": W, "b": b})], track_order=True)
# Linear(2, 16) whose W may grow by rows, in chunks of 262144 x 1 (1 MB each, inflated): far taller than its two
# rows, which HDF5 allows where a dimension has no fixed size
W16, b16 = (np.arange(32, dtype=np.float32) / 4).reshape(2, 16), np.zeros(16, np.float32)
save("linear-2x16-lin-tall-chunks.hdf", [("lin", {"W": W16, "b": b16})],
     storage=lambda data: {"compression": "gzip", "maxshape": (None,) * data.ndim, "chunks": (262144,) + (1,) * (data.ndim - 1)})


def save_appended_newer_layout(path, modules):
    """A file of the earliest format (superblock version 0) that h5py opened again with libver="latest"
    to add the parameters: the superblock stays version 0, but the datasets are written with HDF5
    1.10's chunk indexes (a fixed array for W's chunks of one row, a single chunk for the compressed
    b), not a version 1 B-tree."""
    with h5py.File(path, "w", libver="earliest") as hdf:
        hdf.create_group("params")
        hdf.create_group("links")
    with h5py.File(path, "a", libver="latest") as hdf:
        params, links = hdf["params"], hdf["links"]
        for name, variables in modules:
            for parameter, data in variables.items():
                idx = len(params)
                storage = {"chunks": (1,) + data.shape[1:]} if data.ndim > 1 else {"compression": "gzip"}
                params.create_dataset(str(idx), data=data, **storage)
                links["%s.%s" % (name, parameter)] = idx


save_appended_newer_layout("linear-2x3-lin-appended-newer-layout.hdf", [("lin", {"W": W, "b": b})])


def save_newer_format(path, modules, sizes=None, track_order=False):
    """The same layout as save, in the newer file format (superblock version 3, object headers
    version 2), whose metadata carries the checksums Module.Load checks. HDF5 writes these headers
    itself (not PureHDF, which Module.Save uses). sizes: HDF5's sizes of file addresses and of
    lengths, in bytes (8 and 8 by default). Attributes added once everything is written no longer fit
    their object headers, which continue in continuation blocks."""
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)  # the root group's; with no times, the files come out the same each run
    if sizes is not None:
        fcpl.set_sizes(*sizes)
    if track_order:
        fcpl.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
        fcpl.set_attr_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    with h5py.File(fid) as hdf:
        gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        gcpl.set_obj_track_times(False)
        if track_order:
            gcpl.set_link_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
            gcpl.set_attr_creation_order(h5py.h5p.CRT_ORDER_TRACKED | h5py.h5p.CRT_ORDER_INDEXED)
        params, links = (h5py.Group(h5py.h5g.create(hdf.id, name, gcpl=gcpl)) for name in (b"params", b"links"))
        for name, variables in modules:
            for parameter, data in variables.items():
                idx = len(params)
                params.create_dataset(str(idx), data=data, track_times=False)
                links["%s.%s" % (name, parameter)] = idx
        for obj in [hdf, params, links] + [params[key] for key in params]:
            for i in range(3):
                obj.attrs["note%d" % i] = "x" * (100 + 7 * i)


# The same Linear(2, 3, name="lin") as HDF5 writes it in the newer format; and with lengths of 4 bytes
# (addresses of 8), so that a continuation message's length is narrower than its address.
save_newer_format("linear-2x3-lin-newer-format.hdf", [("lin", {"W": W, "b": b})], track_order=True)
save_newer_format("linear-2x3-lin-newer-format-lengths4.hdf", [("lin", {"W": W, "b": b})], sizes=(8, 4))
