using System.Runtime.InteropServices;
using PureHDF;
using PureHDF.VOL.Native;

namespace NeuronInterop.Modules;

/// <summary>
/// A module's parameters as HDF5, in the layout of PuzzleLib's <c>Module.save</c>: a group
/// <c>params</c> of float32 datasets named <c>0</c>, <c>1</c>, … and a group <c>links</c> of scalar
/// integer datasets named <c>{module name}.{parameter name}</c> (the module name empty when it has
/// none), each holding the name of its dataset in <c>params</c>. A file either library writes, the
/// other loads; a file may hold other modules' parameters as well.
/// </summary>
internal static class ParameterFile
{
    private const string ParamsGroup = "params";
    private const string LinksGroup = "links";

    /// <summary>The name of a parameter's link: <c>{module name}.{parameter name}</c>.</summary>
    internal static string LinkName(Module module, Parameter parameter) => $"{module.Name}.{parameter.Name}";

    /// <summary>Writes the parameters' current values to <paramref name="stream"/>, from its first byte (position 0).</summary>
    /// <exception cref="IOException">PureHDF could not write the file (a module name too long for HDF5, say).</exception>
    internal static void Write(IReadOnlyList<Parameter> parameters, Module module, Stream stream)
    {
        var values = new H5Group();
        var links = new H5Group();
        for (int i = 0; i < parameters.Count; i++)
        {
            Tensor value = parameters[i].Value;
            values[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] =
                new H5Dataset(value.ToArray(), fileDims: value.Shape.Select(d => (ulong)d).ToArray());
            links[LinkName(module, parameters[i])] = (long)i;
        }
        try
        {
            new H5File { [ParamsGroup] = values, [LinksGroup] = links }.Write(stream);
        }
        catch (Exception e) when (e is not (IOException or OutOfMemoryException))
        {
            // PureHDF reports what HDF5 cannot hold with plain exceptions.
            throw new IOException($"{module.Describe()} could not be written as HDF5: {e.Message}", e);
        }
    }

    /// <summary>
    /// Reads every parameter's values from <paramref name="stream"/>, checking each against its
    /// parameter's shape; nothing is copied to the module here, so a file that does not fit
    /// changes nothing.
    /// </summary>
    /// <param name="parameters">The module's parameters.</param>
    /// <param name="module">The module, for its name.</param>
    /// <param name="stream">A seekable stream that holds the file from its first byte (position 0).</param>
    /// <param name="source">The file's name (or "the stream"), for messages.</param>
    /// <returns>Each parameter's values, in the order of <paramref name="parameters"/>.</returns>
    /// <exception cref="InvalidDataException">The stream is not HDF5, is damaged, or has no fitting values for a parameter.</exception>
    internal static float[][] Read(IReadOnlyList<Parameter> parameters, Module module, Stream stream, string source)
    {
        if (stream.Length == 0)
        {
            // PureHDF's words would be "Unable to read beyond the end of the stream".
            throw new InvalidDataException($"{source} is empty: it holds no saved parameters.");
        }
        try
        {
            // PureHDF checks no checksum; a header it reads damaged can load changed values or allocate gigabytes.
            MetadataChecksums.Verify(stream, source);
            Stream shown = MetadataChecksums.SuperblockPosition(stream) is > 0 and var superblock ? new SuperblockAtStart(stream, superblock) : stream;
            // Where there are no checksums, PureHDF allocates what a damaged size claims: the sizes are checked against the file.
            EarlierFormatStructure.Verify(shown, source);
            var watched = new WatchedStream(shown);
            stream.Position = 0;
            using var file = H5File.Open(watched, leaveOpen: true);
            if (!file.LinkExists(LinksGroup) || !file.LinkExists(ParamsGroup))
            {
                throw new InvalidDataException(
                    $"{source} holds no module parameters: it lacks the groups '{ParamsGroup}' and '{LinksGroup}' of a saved module.");
            }
            var result = new float[parameters.Count][];
            for (int i = 0; i < parameters.Count; i++)
            {
                result[i] = ReadParameter(file, watched, module, parameters[i], source);
            }
            CheckNoOwnParameterIsLeftOver(file.Group(LinksGroup), parameters, module, source);
            return result;
        }
        catch (InvalidDataException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // PureHDF's own failures (not HDF5, a damaged file, a type it cannot read) come as
            // several exception types; all mean that the data cannot be loaded.
            throw new InvalidDataException($"{source} could not be read as a parameter file (HDF5): {e.Message}", e);
        }
    }

    /// <summary>
    /// Refuses a file that holds a parameter under the module's own name that the module lacks (a bias
    /// for a layer without one): loading the rest would give another model than the one saved. Links of
    /// other modules, and of modules nested under this name (<c>{name}.{child}.W</c>), are left alone.
    /// </summary>
    private static void CheckNoOwnParameterIsLeftOver(IH5Group links, IReadOnlyList<Parameter> parameters, Module module, string source)
    {
        string prefix = $"{module.Name}.";
        foreach (IH5Object child in links.Children())
        {
            if (!child.Name.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            string parameter = child.Name[prefix.Length..];
            if (parameter.Length == 0 || parameter.Contains('.') || parameters.Any(p => p.Name == parameter))
                continue;
            string own = string.Join(", ", parameters.Select(p => $"'{p.Name}'"));
            throw new InvalidDataException(
                $"{source} holds '{child.Name}', a parameter '{parameter}' that {module.Describe()} does not have (it has {own}): " +
                "the file was saved from a module built otherwise, such as a Linear with a bias loaded into one without. " +
                "To take the weights alone, load the file into a layer with a bias and copy W from it.");
        }
    }

    private static float[] ReadParameter(IH5Group file, WatchedStream stream, Module module, Parameter parameter, string source)
    {
        string link = LinkName(module, parameter);
        string what = $"parameter '{parameter.Name}' of {module.Describe()}";
        IH5Group links = file.Group(LinksGroup);
        if (!links.LinkExists(link))
        {
            string names = string.Join(", ", links.Children().Select(child => $"'{child.Name}'"));
            throw new InvalidDataException(
                $"{source} has no values for {what}: it has no link '{link}' (it holds {(names.Length == 0 ? "none" : names)}).");
        }

        IH5Dataset linkData = links.Dataset(link);
        if (linkData.Type.Class != H5DataTypeClass.FixedPoint || linkData.Space.Type != H5DataspaceType.Scalar)
        {
            throw new InvalidDataException($"{source}: the link '{link}' is not a single integer.");
        }
        bool signed = linkData.Type.FixedPoint.IsSigned;
        decimal number = linkData.Type.Size switch
        {
            1 => signed ? LinkValue<sbyte>() : LinkValue<byte>(),
            2 => signed ? LinkValue<short>() : LinkValue<ushort>(),
            4 => signed ? LinkValue<int>() : LinkValue<uint>(),
            8 => signed ? LinkValue<long>() : LinkValue<ulong>(),
            _ => throw new InvalidDataException($"{source}: the link '{link}' is a {linkData.Type.Size}-byte integer."),
        };
        decimal LinkValue<T>() where T : unmanaged, System.Numerics.INumberBase<T> =>
            decimal.CreateChecked(ReadWhole<T>(linkData, 1, stream, $"the link '{link}'", source)[0]);
        string index = number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        IH5Group values = file.Group(ParamsGroup);
        if (!values.LinkExists(index))
        {
            throw new InvalidDataException($"{source}: the link '{link}' names '{ParamsGroup}/{index}', which is not there.");
        }

        IH5Dataset data = values.Dataset(index);
        long[] shape = data.Space.Dimensions.Select(d => (long)d).ToArray();
        if (!shape.SequenceEqual(parameter.Value.Shape))
        {
            throw new InvalidDataException(
                $"{source}: {what} has shape {Tensor.FormatShape(shape)} there, but {Module.ShapeText(parameter.Value)} in the module.");
        }
        if (data.Type.Class != H5DataTypeClass.FloatingPoint || (data.Type.Size != 4 && data.Type.Size != 2))
        {
            string type = data.Type.Class == H5DataTypeClass.FloatingPoint ? $"float{8 * data.Type.Size}" : data.Type.Class.ToString();
            throw new InvalidDataException(
                $"{source}: {what} is stored as {type}; only float32 and float16 load without loss.");
        }
        // A damaged file's dataspace may disagree with its own dimensions (a scalar dataspace that still lists them).
        ulong held = data.Space.Type switch
        {
            H5DataspaceType.Scalar => 1,
            H5DataspaceType.Null => 0,
            _ => data.Space.Dimensions.Aggregate(1UL, (product, d) => product * d),
        };
        if (held != (ulong)parameter.Value.ElementCount)
        {
            throw new InvalidDataException(
                $"{source}: {what} holds {held} values there, not the {parameter.Value.ElementCount} of its shape " +
                $"{Tensor.FormatShape(shape)}: the file is damaged.");
        }
        int count = checked((int)parameter.Value.ElementCount);
        return data.Type.Size == 4
            ? ReadWhole<float>(data, count, stream, what, source)
            : ReadWhole<Half>(data, count, stream, what, source).Select(h => (float)h).ToArray();
    }

    /// <summary>The most bytes deflate (gzip) inflates one byte of its stream to: 258 repeated bytes in about 2 bits.</summary>
    private const ulong MaxDeflateRatio = 1032;

    /// <summary>
    /// Reads all <paramref name="count"/> values of <paramref name="data"/>, refusing a dataset whose values do
    /// not all come from the file. Where a damaged file lacks values, PureHDF does not fail: it fills a chunk
    /// or a contiguous dataset that the file does not hold with the fill value (zeros by default), and leaves
    /// unwritten what compact data (kept in the object header) or an inflated chunk lacks. Either would load
    /// values that were never saved. So contiguous values must be read from the file (where the stream
    /// reads them in full or fails), every chunk must come from the file at its full size, and compact data
    /// is read twice, into all-ones and into all-zeros bytes: a byte that differs was not written. A chunk
    /// must also be read at the size its chunk index gives, where that index is a version 1 B-tree (see
    /// <see cref="ChunkIndex"/>): else a file whose filter pipeline is lost loads its compressed bytes as values.
    /// </summary>
    private static T[] ReadWhole<T>(IH5Dataset data, int count, WatchedStream stream, string what, string source)
        where T : unmanaged
    {
        var values = new T[count];
        switch (data.Layout.Class)
        {
            case H5DataLayoutClass.Compact:
                MemoryMarshal.AsBytes(values.AsSpan()).Fill(0xFF);
                data.Read(values);
                var again = new T[count];
                data.Read(again);
                if (!MemoryMarshal.AsBytes(values.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(again.AsSpan())))
                {
                    throw new InvalidDataException(
                        $"{source}: {what} lacks values there (its data is shorter than its {count} values): the file is damaged.");
                }
                return values;
            case H5DataLayoutClass.Contiguous:
                long before = stream.DataReads;
                data.Read(values);
                if (count > 0 && stream.DataReads == before)
                {
                    throw new InvalidDataException(
                        $"{source}: {what} has no values in the file (its storage was never written, or its address is damaged).");
                }
                return values;
            case H5DataLayoutClass.Chunked:
                // HDF5 makes no chunk larger than a dimension of fixed size; PureHDF allocates what a damaged one claims.
                ulong[] chunkDims = data.Layout.Chunks, dims = data.Space.Dimensions, maxDims = data.Space.MaxDimensions;
                if (chunkDims.Length != dims.Length || Enumerable.Range(0, dims.Length).Any(i =>
                        chunkDims[i] == 0 || (dims[i] > 0 && maxDims[i] != ulong.MaxValue && chunkDims[i] > maxDims[i])))
                {
                    throw new InvalidDataException(
                        $"{source}: {what} is stored in chunks of {Tensor.FormatShape(chunkDims.Select(d => (long)d).ToArray())}, " +
                        $"which do not fit its shape {Tensor.FormatShape(dims.Select(d => (long)d).ToArray())}: the file is damaged.");
                }
                ulong chunkBytes = checked(chunkDims.Aggregate(1UL, (product, d) => product * d) * (ulong)data.Type.Size);
                // Where a dimension may grow, any chunk size fits the shape, and PureHDF allocates a whole chunk before
                // reading it: a damaged size in a file of kilobytes made it take gigabytes. A chunk the file holds takes
                // at least 1/1032 of its bytes there (deflate, HDF5's compression, packs at most 1032 bytes into one).
                ulong mostChunkBytes = MaxDeflateRatio * (ulong)stream.File.Length;
                if (chunkBytes > mostChunkBytes)
                {
                    throw new InvalidDataException(
                        $"{source}: {what} is stored in chunks of {Tensor.FormatShape(chunkDims.Select(d => (long)d).ToArray())}, " +
                        $"{chunkBytes} bytes each: more than a file of {stream.File.Length} bytes can hold, even compressed. The file is damaged.");
                }
                // PureHDF copies the values out row by row, across all the chunks a row passes through.
                ulong rowOfChunks = Enumerable.Range(1, dims.Length - 1)
                    .Aggregate(1UL, (product, i) => checked(product * ((dims[i] + chunkDims[i] - 1) / chunkDims[i])));
                var chunks = new ChunkWitness(stream, chunkBytes, rowOfChunks, (ulong)count * (ulong)data.Type.Size);
                stream.Chunks = ChunkIndex.For(stream.File, dims.Length, what, source);
                try
                {
                    ((NativeDataset)data).Read(new H5DatasetAccess(ChunkCache: chunks), values);
                }
                finally
                {
                    stream.Chunks = null;
                }
                if (chunks.Missing > 0 || chunks.Short > 0)
                {
                    string problem = chunks.Missing > 0
                        ? $"{chunks.Missing} of its chunks are not in the file (their values were never written)"
                        : $"{chunks.Short} of its chunks hold another size than {chunkBytes} bytes";
                    throw new InvalidDataException($"{source}: {what} is incomplete there: {problem}. The file is damaged.");
                }
                return values;
            default:
                // A virtual dataset's values lie in other datasets, with the fill value where none is mapped.
                throw new InvalidDataException(
                    $"{source}: {what} is stored as a {data.Layout.Class} dataset; a parameter file holds its values itself.");
        }
    }

    /// <summary>
    /// Passes PureHDF's chunk reads through a cache and counts the chunks that did not come from the file:
    /// those PureHDF filled with the fill value because the file holds no such chunk, and those whose data
    /// (inflated where compressed) has another size than a chunk.
    /// <para>
    /// Each chunk read is kept as a copy. PureHDF reads a filtered chunk into a pooled buffer, which it returns
    /// to the pool before the chunk is used, and its Fletcher-32 filter gives the chunk as a slice of that buffer:
    /// with Fletcher-32 as the only filter (h5py's <c>fletcher32=True</c> without compression), the next chunk
    /// read overwrote the one before while its values were still being copied out, and a valid file loaded
    /// other chunks' values without an error.
    /// </para>
    /// </summary>
    private sealed class ChunkWitness(WatchedStream stream, ulong chunkBytes, ulong rowOfChunks, ulong valueBytes) : IReadingChunkCache
    {
        // Room for every chunk one row of values passes through, twice over: PureHDF's default cache (1 MB) holds 16
        // chunks of h5py's default 128 x 128 float32, so a row of 4096 values, through 32 chunks, read and inflated
        // each chunk again for each of its 128 rows (26 s for a Linear(4096, 4096) of h5py's, in place of 0.5 s). But no
        // more than twice the values' own bytes: where a dimension may grow, HDF5 allows chunks far larger than the values
        // they hold, and keeping a row of them held 16 MB for 128 bytes of values (gigabytes, with taller chunks).
        private readonly IReadingChunkCache _cache = new SimpleReadingChunkCache(
            chunkSlotCount: (int)UInt128.Clamp(2 * (UInt128)rowOfChunks, 521, int.MaxValue),
            byteCount: (ulong)UInt128.Clamp(2 * (UInt128)rowOfChunks * chunkBytes, 1 << 20, UInt128.Max(1 << 20, 2 * (UInt128)valueBytes)));

        public int Missing { get; private set; }

        public int Short { get; private set; }

        public Memory<byte> GetChunk(ulong chunkIndex, Func<Memory<byte>> chunkReader) =>
            _cache.GetChunk(chunkIndex, () =>
            {
                long before = stream.DataReads;
                Memory<byte> chunk = chunkReader();
                if (stream.DataReads == before)
                {
                    Missing++;
                }
                else if ((ulong)chunk.Length != chunkBytes)
                {
                    Short++;
                }
                return chunk.ToArray();
            });
    }

    /// <summary>
    /// A file with a user block (data of other programs before the HDF5 data), as PureHDF can read it. HDF5 puts the
    /// superblock after the user block, at byte 512, 1024, 2048, …; PureHDF 2.2.0 looks for it at 0, 512, 1536, 3584, …
    /// and so calls a file with a user block of 1024 bytes or more "not a valid HDF5 file". Here the bytes from the
    /// superblock on are also seen in place of the user block's, so PureHDF finds the superblock at byte 0. Every other
    /// byte is the file's own: addresses in the file count from its base address (the superblock's position, given
    /// in the superblock), and PureHDF reads them there.
    /// </summary>
    private sealed class SuperblockAtStart(Stream inner, long superblock) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => inner.Length;

        public override long Position
        {
            get => _position;
            set => _position = value;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            // The user block's bytes read as the same number of bytes from the superblock on; the rest as they are.
            long from = _position < superblock ? _position + superblock : _position;
            int count = _position < superblock ? (int)Math.Min(buffer.Length, superblock - _position) : buffer.Length;
            inner.Position = from;
            int read = inner.Read(buffer[..count]);
            _position += read;
            return read;
        }

        public override long Seek(long offset, SeekOrigin origin) => _position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => Length + offset,
        };

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>
    /// The stream PureHDF reads the file through: reads of dataset values (<see cref="IDatasetStream"/>) are
    /// counted, so that a chunk read can tell whether it came from the file; and while <see cref="Chunks"/> is
    /// set, PureHDF's seeks and reads are shown to it, to check each chunk read against the chunk index.
    /// </summary>
    private sealed class WatchedStream(Stream inner) : Stream, IDatasetStream
    {
        public long DataReads { get; private set; }

        /// <summary>The file itself, whose reads nothing watches.</summary>
        public Stream File => inner;

        public ChunkIndex? Chunks { get; set; }

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => inner.Length;

        public override long Position
        {
            get => inner.Position;
            set
            {
                inner.Position = value;
                Chunks?.Sought(value);
            }
        }

        public void ReadDataset(Span<byte> buffer)
        {
            DataReads++;
            Chunks?.ReadsChunk(inner.Position, buffer.Length);
            inner.ReadExactly(buffer);
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Chunks?.ReadsMetadata(inner.Position);
            return inner.Read(buffer, offset, count);
        }

        public override int Read(Span<byte> buffer)
        {
            Chunks?.ReadsMetadata(inner.Position);
            return inner.Read(buffer);
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            long position = inner.Seek(offset, origin);
            Chunks?.Sought(position);
            return position;
        }

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
