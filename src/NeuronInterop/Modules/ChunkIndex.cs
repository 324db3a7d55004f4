using System.Buffers.Binary;

namespace NeuronInterop.Modules;

/// <summary>
/// The chunk sizes a chunked dataset's version 1 B-tree gives, checked against the reads PureHDF makes. That
/// B-tree is the chunk index of HDF5's earlier format (superblock version 0 or 1), which PuzzleLib's files use
/// and which carries no checksum. Each of its leaves lists the dataset's chunks, each with its size as stored
/// (compressed, where the dataset has a filter pipeline) and its address. PureHDF reads a chunk at that size
/// where the dataset has filters, but at the full size of a chunk where it has none, whatever size the index
/// gives: a file whose filter pipeline message is damaged (blanked to a NIL message, say) loads its gzip-compressed
/// bytes as values, without an error. HDF5 stores a chunk without filters at the full size of a chunk, so a
/// chunk read at another size than its index gives is refused. And a chunk the index says runs past the end of
/// the file is refused before PureHDF reads it (it would first allocate what the damaged size claims: gigabytes).
/// <para>
/// PureHDF does not tell where the B-tree lies, but it seeks to each node before it reads it; so the nodes are
/// read here where a read of metadata (not of values) follows a seek, while the dataset's values are read, by
/// the rules PureHDF reads them by: the signature "TREE", a node type (not checked), a level (0 for a leaf), the
/// number of entries and the two siblings' addresses, then the entries: for each chunk a key (4 bytes of size, 4
/// of filter mask, and 8 bytes of offset for each of the dataset's dimensions and one more) and the chunk's
/// address; and one key more. In a file of the earlier format, a chunk read that no leaf gave is refused as well,
/// once a node of the dataset's B-tree has been read (sought to or not), so that a change in how PureHDF reads (no
/// longer seeking to each node) cannot turn the check off unnoticed. A dataset added to such a file by HDF5 1.10 or
/// later (h5py's libver="latest" on a file of the earlier format) has another chunk index (a fixed array, a
/// single chunk, ...), whose chunks no leaf gives. Chunk addresses count from the base address the superblock gives
/// (past a user block, where the file has one); the superblock is looked for at byte 0 only, where PureHDF is shown
/// it for every file (see ParameterFile's SuperblockAtStart).
/// </para>
/// </summary>
internal sealed class ChunkIndex
{
    private static ReadOnlySpan<byte> NodeSignature => "TREE"u8;

    private readonly Stream _file;
    private readonly int _rank;
    private readonly int _offsetSize;
    private readonly bool _everyChunkIndexed;
    private readonly string _what;
    private readonly string _source;
    private readonly ulong _baseAddress;
    private readonly Dictionary<long, uint> _sizes = [];
    private long? _sought;
    private bool _nodeRead;

    private ChunkIndex(Stream file, int rank, int offsetSize, ulong baseAddress, bool everyChunkIndexed, string what, string source)
    {
        (_file, _rank, _offsetSize, _baseAddress, _everyChunkIndexed, _what, _source) =
            (file, rank, offsetSize, baseAddress, everyChunkIndexed, what, source);
    }

    /// <summary>
    /// A check of the chunk reads of one dataset with <paramref name="rank"/> dimensions in the file that
    /// <paramref name="file"/> shows from its first byte, or null where its superblock does not lie there or has
    /// sizes of addresses PureHDF does not read. Its position is kept.
    /// </summary>
    /// <param name="file">The file, read from here without the reads being seen.</param>
    /// <param name="rank">The dataset's number of dimensions.</param>
    /// <param name="what">The parameter, for messages.</param>
    /// <param name="source">The file's name (or "the stream"), for messages.</param>
    public static ChunkIndex? For(Stream file, int rank, string what, string source)
    {
        long position = file.Position;
        try
        {
            Span<byte> start = stackalloc byte[36];
            file.Position = 0;
            if (file.Length < 14 || file.ReadAtLeast(start, 14, throwOnEndOfStream: false) is var read && read < 14 ||
                !start[..8].SequenceEqual(MetadataChecksums.FileSignature))
            {
                return null;
            }
            // Versions 0 and 1 give the size of addresses at byte 13, versions 2 and 3 at byte 9; then the base address
            // (which addresses count from: the superblock's position) at byte 24, 28 or 12.
            (int offsetSize, int baseAt, bool earlier) = start[8] switch
            {
                0 => (start[13], 24, true),
                1 => (start[13], 28, true),
                2 or 3 => (start[9], 12, false),
                _ => (0, 0, false),
            };
            return offsetSize is 2 or 4 or 8 && baseAt + offsetSize <= read
                ? new ChunkIndex(file, rank, offsetSize, ReadUnsigned(start.Slice(baseAt, offsetSize)), earlier, what, source)
                : null;
        }
        finally
        {
            file.Position = position;
        }
    }

    /// <summary>PureHDF moved to <paramref name="position"/>: what it reads there next may be a node.</summary>
    public void Sought(long position) => _sought = position;

    /// <summary>
    /// PureHDF reads metadata at <paramref name="position"/>: where it sought there, and a leaf of a version 1
    /// B-tree lies there, its chunks' sizes are taken. A node read there, sought to or not, shows that the dataset's
    /// chunks are indexed by such a B-tree.
    /// </summary>
    /// <exception cref="InvalidDataException">A chunk runs past the end of the file.</exception>
    public void ReadsMetadata(long position)
    {
        bool sought = _sought == position;
        _sought = null;
        if (!sought && (_nodeRead || !_everyChunkIndexed))
        {
            return;
        }
        long length = _file.Length;
        int header = 8 + 2 * _offsetSize;
        if (position < 0 || position > length - header)
        {
            return;  // PureHDF fails to read it
        }
        byte[] start = ReadAt(position, header);
        if (!start.AsSpan(0, 4).SequenceEqual(NodeSignature))
        {
            return;  // not a node
        }
        _nodeRead = true;  // the dataset's chunks are indexed by a version 1 B-tree, so each is in one of its leaves
        if (!sought || start[5] != 0)
        {
            return;  // not a leaf: its entries are nodes, not chunks
        }
        int entries = BinaryPrimitives.ReadUInt16LittleEndian(start.AsSpan(6));
        int keySize = 8 + 8 * (_rank + 1);
        long size = header + (long)(entries + 1) * keySize + (long)entries * _offsetSize;
        if (size > length - position)
        {
            return;  // PureHDF fails to read it
        }
        byte[] node = ReadAt(position + header, (int)(size - header));
        for (int i = 0; i < entries; i++)
        {
            int at = i * (keySize + _offsetSize);
            uint chunkSize = BinaryPrimitives.ReadUInt32LittleEndian(node.AsSpan(at));
            ulong address = ReadUnsigned(node.AsSpan(at + keySize, _offsetSize));
            if (IsUndefined(address))
            {
                continue;  // a chunk never written: PureHDF fills it with the fill value, which ChunkWitness refuses
            }
            if (address > (ulong)length || _baseAddress > (ulong)length - address || chunkSize > (ulong)length - address - _baseAddress)
            {
                throw new InvalidDataException(
                    $"{_source}: {_what} has a chunk of {chunkSize} bytes at byte {_baseAddress + address} by its chunk index, which runs " +
                    $"past the end of the file ({length} bytes): the file is damaged.");
            }
            _sizes[(long)(_baseAddress + address)] = chunkSize;
        }
    }

    /// <summary>PureHDF reads <paramref name="count"/> bytes of a chunk at <paramref name="position"/>.</summary>
    /// <exception cref="InvalidDataException">The chunk index gives the chunk another size, or (in a file of the earlier
    /// format) no chunk at that place.</exception>
    public void ReadsChunk(long position, int count)
    {
        _sought = null;
        if (_sizes.TryGetValue(position, out uint size))
        {
            if (size != (uint)count)
            {
                // PureHDF reads a chunk at the size its index gives where the dataset has filters: this one has none.
                throw new InvalidDataException(
                    $"{_source}: {_what} is stored without filters, in chunks of {count} bytes, but its chunk index gives the " +
                    $"chunk at byte {position} {size} bytes: the dataset's filter pipeline (its compression) is lost, or its " +
                    "chunk index is damaged. The file is damaged.");
            }
        }
        else if (_everyChunkIndexed && _nodeRead)
        {
            throw new InvalidDataException(
                $"{_source}: {_what} is read at byte {position}, where its chunk index gives no chunk of which the size " +
                "could be checked: the file is damaged.");
        }
    }

    private byte[] ReadAt(long position, int count)
    {
        long before = _file.Position;
        var bytes = new byte[count];
        _file.Position = position;
        _file.ReadExactly(bytes);
        _file.Position = before;
        return bytes;
    }

    private bool IsUndefined(ulong address) => MetadataChecksums.IsUndefinedAddress(address, _offsetSize);

    private static ulong ReadUnsigned(ReadOnlySpan<byte> bytes) => MetadataChecksums.ReadUnsigned(bytes);
}
