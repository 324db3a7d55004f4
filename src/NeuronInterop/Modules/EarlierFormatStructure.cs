using System.Buffers.Binary;

namespace NeuronInterop.Modules;

/// <summary>
/// Checks the structure of an HDF5 file of the earlier format (superblock version 0 or 1, which h5py and PuzzleLib
/// write by default) before PureHDF reads it. That format carries no checksums, and PureHDF allocates what a size in
/// it claims before it reads that many bytes: one changed byte of a local heap's size, of a fill value's size or of
/// an object header message's size made it allocate 2 GB before it failed (or, under a container's memory limit, fail
/// with an <see cref="OutOfMemoryException"/> that did not say the file is damaged); and it follows a loop of
/// addresses until the process's stack overflows, which ends the process. So the file is walked here first, as HDF5's
/// file format specification lays it out, reading no more than the file holds, and a size or an address that does not
/// fit is refused as damage:
/// <list type="bullet">
/// <item>the file must hold as many bytes as its superblock's end-of-file address says;</item>
/// <item>from the root group's symbol table entry in the superblock to its object header (version 1), whose messages
/// must fill its block exactly, each within it and of a multiple of 8 bytes, and whose continuation blocks must lie
/// within the file, each reached once;</item>
/// <item>from a symbol table message, or from a symbol table entry's scratch pad (which PureHDF reads in its place), to
/// the group's local heap, whose names must lie within the file, and to its version 1 B-tree, each of whose nodes must
/// lie within the file, and be listed once, one level below the node that lists it; from the B-tree's leaves to its
/// symbol table nodes, which must lie within the file; and from each of their entries, and from each hard link, on to
/// the object's header;</item>
/// <item>in a header, each size that PureHDF allocates by must fit in its message: a fill value's (in the old fill
/// value message and the new), compact values' (in the data layout message), a link's name, an enumeration type's
/// values (in a datatype, also within another type), an attribute's values; and no message may be too short for the
/// fields PureHDF reads from it, nor a datatype, or an attribute's name, datatype or dataspace, run past its message;</item>
/// <item>a dataset's shuffle filter must shuffle elements of its values' size, which HDF5 writes there: another size
/// reorders the bytes of every value, and neither PureHDF nor HDF5 would tell.</item>
/// </list>
/// Addresses count from the base address the superblock gives. The file is read as PureHDF is shown it (with the
/// superblock at byte 0: see ParameterFile's SuperblockAtStart), so the walk reads the bytes PureHDF will read. What
/// An object header of the newer format, which HDF5 writes in this format for a group that keeps its links in creation
/// order (h5py's <c>track_order=True</c>), is checked by its checksum (<see cref="MetadataChecksums"/>), and the walk goes
/// on to the objects its hard links name. What the walk does not recognise (a group of the newer format's dense storage, a
/// message it does not know or that is shared, a block whose start lies beyond the end of the file) is left for PureHDF
/// to judge, as <see cref="MetadataChecksums"/> leaves it; a chunked dataset's chunks are checked as PureHDF reads them
/// (see <see cref="ChunkIndex"/>).
/// </summary>
internal static class EarlierFormatStructure
{
    private static ReadOnlySpan<byte> TreeSignature => "TREE"u8;
    private static ReadOnlySpan<byte> HeapSignature => "HEAP"u8;
    private static ReadOnlySpan<byte> SymbolNodeSignature => "SNOD"u8;
    private static ReadOnlySpan<byte> NewerHeaderSignature => "OHDR"u8;

    private const int DatatypeMessage = 0x0003;
    private const int OldFillValueMessage = 0x0004;
    private const int FillValueMessage = 0x0005;
    private const int LinkMessage = 0x0006;
    private const int DataLayoutMessage = 0x0008;
    private const int FilterPipelineMessage = 0x000B;
    private const int AttributeMessage = 0x000C;
    private const int ContinuationMessage = 0x0010;
    private const int SymbolTableMessage = 0x0011;

    /// <summary>HDF5's shuffle filter, whose first client data value is the size of the elements it shuffles.</summary>
    private const int ShuffleFilter = 2;

    /// <summary>How deep datatypes within datatypes are followed; a deeper one is left for PureHDF to judge.</summary>
    private const int MaxTypeNesting = 32;

    /// <summary>
    /// Walks the file that <paramref name="file"/> holds with its superblock at byte 0, where that superblock is of
    /// version 0 or 1, and leaves the stream at position 0. Any other file is left for PureHDF to judge.
    /// </summary>
    /// <exception cref="InvalidDataException">A size or an address of the file's structure runs past the end of the file
    /// or does not agree with the structure around it.</exception>
    internal static void Verify(Stream file, string source)
    {
        try
        {
            new Walk(file, source).Run();
        }
        finally
        {
            file.Position = 0;
        }
    }

    private enum Kind
    {
        Header,
        Continuation,
        TreeNode,
        SymbolNode,
        LocalHeap,
    }

    /// <summary>
    /// A block to check: an object header; a continuation block of <see cref="Length"/> bytes of the object header at
    /// <see cref="Owner"/>; a node of a group's B-tree, listed by the node at <see cref="Owner"/> (or by a symbol table,
    /// where <see cref="Level"/> is -1) that gives it the level <see cref="Level"/>; a symbol table node; or a local heap.
    /// </summary>
    private readonly record struct Block(Kind Kind, long At, long Length = 0, long Owner = -1, int Level = -1);

    private sealed class Walk(Stream file, string source)
    {
        private readonly long _length = file.Length;
        private readonly HashSet<(Kind, long)> _seen = [];
        private readonly Dictionary<long, uint> _valueSizes = [];
        private readonly Dictionary<long, uint> _shuffledSizes = [];
        private readonly Queue<Block> _blocks = new();
        private int _offsetSize;
        private int _lengthSize;
        private long _baseAddress;

        public void Run()
        {
            // Version 0 and 1: signature, versions (superblock, free space, root group entry, reserved, shared header
            // messages), sizes of offsets and of lengths, reserved, the group B-tree's K values (2 + 2), flags (4), for
            // version 1 the chunk B-tree's K value and 2 reserved bytes; then the base, free space, end of file and driver
            // information addresses, and the root group's symbol table entry.
            if (_length < 24)
            {
                return;
            }
            byte[] start = ReadAt(0, 24);
            if (!start.AsSpan(0, 8).SequenceEqual(MetadataChecksums.FileSignature) || start[8] is not (0 or 1))
            {
                return;  // no superblock of the earlier format at byte 0: MetadataChecksums or PureHDF judges the file
            }
            _offsetSize = start[13];
            _lengthSize = start[14];
            int addresses = start[8] == 0 ? 24 : 28;
            if (_offsetSize is not (2 or 4 or 8) || addresses + 3 * _offsetSize > _length)
            {
                return;  // a size this walk does not read, or a superblock cut short: PureHDF judges it
            }
            MetadataChecksums.CheckNotTruncated(Offset(ReadAt(addresses, 3 * _offsetSize), 2 * _offsetSize), _offsetSize, _length, source);
            if (_lengthSize is not (2 or 4 or 8))
            {
                return;  // a size this walk does not read: PureHDF judges it
            }
            if (_offsetSize != _lengthSize)
            {
                // PureHDF reads a symbol table entry's name offset, which has the size of lengths, at the size of addresses,
                // and so every field after it from the wrong place.
                throw new InvalidDataException(
                    $"{source} cannot be read: it is of HDF5's earliest format with addresses of {_offsetSize} bytes and lengths " +
                    $"of {_lengthSize}, and a file of that format is read only where the two sizes are the same (as h5py and " +
                    "PuzzleLib write them: 8 and 8). Save it again with the default sizes, or in HDF5's newer format.");
            }
            int rootEntry = addresses + 4 * _offsetSize;
            if (rootEntry + SymbolTableEntrySize > _length)
            {
                return;  // PureHDF fails to read it
            }
            byte[] superblock = ReadAt(0, rootEntry + SymbolTableEntrySize);
            ulong baseAddress = Offset(superblock, addresses);
            if (baseAddress > (ulong)_length)
            {
                return;  // nothing of it lies in the file: PureHDF fails to read it
            }
            _baseAddress = (long)baseAddress;
            // PureHDF opens the root group by its object header, not by the entry's scratch pad.
            Enqueue(Kind.Header, Offset(superblock, rootEntry + _lengthSize));

            while (_blocks.TryDequeue(out Block block))
            {
                switch (block.Kind)
                {
                    case Kind.Header:
                        CheckHeader(block.At);
                        break;
                    case Kind.Continuation:
                        CheckMessages(block.Owner, block.At, block.Length);
                        break;
                    case Kind.TreeNode:
                        CheckTreeNode(block);
                        break;
                    case Kind.SymbolNode:
                        CheckSymbolNode(block.At);
                        break;
                    case Kind.LocalHeap:
                        CheckLocalHeap(block.At);
                        break;
                }
            }
            CheckShuffledSizes();
        }

        /// <summary>
        /// A symbol table entry: the name's offset in the local heap (of the size of lengths), the object header's address,
        /// the cache type (4 bytes), 4 reserved bytes and 16 of scratch pad.
        /// </summary>
        private int SymbolTableEntrySize => _lengthSize + _offsetSize + 24;

        /// <summary>
        /// Checks a version 1 object header: its version, a reserved byte, the number of messages (2 bytes), the reference
        /// count (4), the size of its messages (4) and 4 bytes that align them; then the messages.
        /// </summary>
        private void CheckHeader(long at)
        {
            if (at + 12 > _length)
            {
                return;  // PureHDF fails to read it
            }
            byte[] prefix = ReadAt(at, 12);
            if (prefix.AsSpan(0, 4).SequenceEqual(NewerHeaderSignature))
            {
                // A group that keeps its links in creation order (h5py's track_order=True) has a header of the newer
                // format, under a checksum: checked there, the objects its hard links name are walked on here.
                MetadataChecksums.VerifyHeaderOfNewerFormat(file, source, at, _offsetSize, _lengthSize, _baseAddress,
                    target => Enqueue(Kind.Header, target));
                return;
            }
            if (prefix[0] != 1)
            {
                return;  // no object header: PureHDF judges it
            }
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(8));
            if (size == 0)
            {
                return;  // no messages (PureHDF reads no alignment bytes either)
            }
            if (size > _length - at - 16)
            {
                throw Damaged($"its object header at byte {at} holds {size} bytes of messages, which run past the end of the file");
            }
            CheckMessages(at, at + 16, size);
        }

        /// <summary>
        /// Checks the messages that fill the <paramref name="length"/> bytes at <paramref name="at"/> (of the object header
        /// at <paramref name="header"/>), each a type (2 bytes), a size (2, a multiple of 8), flags (1), 3 reserved bytes and
        /// its data. PureHDF reads messages until their sizes add up to the block's: one that runs past it, or bytes left
        /// over too few for a message, set it reading messages from what follows the block.
        /// </summary>
        private void CheckMessages(long header, long at, long length)
        {
            long end = at + length;
            for (long message = at; message < end;)
            {
                if (end - message < 8)
                {
                    throw Damaged($"the messages of its object header at byte {header} leave {end - message} bytes of their block at " +
                        $"byte {message}, too few for a message: a message's size is damaged");
                }
                byte[] prefix = ReadAt(message, 8);
                int type = BinaryPrimitives.ReadUInt16LittleEndian(prefix);
                int size = BinaryPrimitives.ReadUInt16LittleEndian(prefix.AsSpan(2));
                // PureHDF reads a shared message (one that lies elsewhere) of these types where it lies; it reads the other
                // types here whatever their flags say.
                bool shared = (prefix[4] & 0x02) != 0 && type is DatatypeMessage or OldFillValueMessage or FillValueMessage or AttributeMessage;
                if (size > end - message - 8)
                {
                    throw Damaged($"its object header at byte {header} has a message of {size} bytes at byte {message}, " +
                        "which runs past the end of its block");
                }
                if (size % 8 != 0)
                {
                    // HDF5 refuses it too ("message not aligned"): the messages that follow would not be where it says.
                    throw Damaged($"its object header at byte {header} has a message of {size} bytes at byte {message}, " +
                        "where this format keeps every message's size a multiple of 8 bytes");
                }
                if (!shared && type is DatatypeMessage or OldFillValueMessage or FillValueMessage or LinkMessage or DataLayoutMessage
                    or FilterPipelineMessage or AttributeMessage or ContinuationMessage or SymbolTableMessage)
                {
                    CheckMessage(header, type, ReadAt(message + 8, size));
                }
                message += 8 + size;
            }
        }

        private void CheckMessage(long header, int type, ReadOnlySpan<byte> body)
        {
            switch (type)
            {
                case DatatypeMessage:
                    Need(header, body, 8, "a datatype");
                    if (DatatypeEnd(header, body, 0, 0) == PastMessage)
                    {
                        throw Damaged($"its object header at byte {header} has a datatype that runs past the end of its message");
                    }
                    _valueSizes[header] = BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
                    break;
                case FilterPipelineMessage:
                    if (ShuffledSize(body) is { } shuffled)
                    {
                        _shuffledSizes[header] = shuffled;
                    }
                    break;
                case OldFillValueMessage:
                    // The fill value's size (4 bytes), then the fill value.
                    Need(header, body, 4, "a fill value");
                    CheckFits(header, BinaryPrimitives.ReadUInt32LittleEndian(body), body.Length - 4, "a fill value", body.Length);
                    break;
                case FillValueMessage:
                    CheckFillValue(header, body);
                    break;
                case LinkMessage:
                    CheckLink(header, body);
                    break;
                case DataLayoutMessage:
                    CheckDataLayout(header, body);
                    break;
                case AttributeMessage:
                    CheckAttribute(header, body);
                    break;
                case ContinuationMessage:
                    // The block's address, then its length.
                    Need(header, body, _offsetSize + _lengthSize, "a continuation");
                    CheckContinuation(header, Offset(body, 0), ReadUnsigned(body.Slice(_offsetSize, _lengthSize)));
                    break;
                case SymbolTableMessage:
                    // The group's B-tree's address, then its local heap's.
                    Need(header, body, 2 * _offsetSize, "a symbol table");
                    Enqueue(Kind.TreeNode, Offset(body, 0));
                    Enqueue(Kind.LocalHeap, Offset(body, _offsetSize));
                    break;
            }
        }

        /// <summary>
        /// The fill value message: its version, then for versions 1 and 2 the space allocation time, the fill value write
        /// time and whether a fill value is defined (1 byte each), and where one is (1, as PureHDF reads it), its size (4
        /// bytes) and the fill value; for version 3, flags (1 byte), and where they say a fill value is defined (bit 5, bit 4
        /// unset), its size and the fill value.
        /// </summary>
        private void CheckFillValue(long header, ReadOnlySpan<byte> body)
        {
            Need(header, body, 1, "a fill value");
            int sizeAt;
            switch (body[0])
            {
                case 1 or 2:
                    Need(header, body, 4, "a fill value");
                    if (body[3] != 1)
                    {
                        return;  // no fill value defined
                    }
                    sizeAt = 4;
                    break;
                case 3:
                    Need(header, body, 2, "a fill value");
                    if ((body[1] & 0x30) != 0x20)
                    {
                        return;  // no fill value defined, or one explicitly undefined
                    }
                    sizeAt = 2;
                    break;
                default:
                    return;  // a version PureHDF refuses
            }
            Need(header, body, sizeAt + 4, "a fill value");
            CheckFits(header, BinaryPrimitives.ReadUInt32LittleEndian(body[sizeAt..]), body.Length - sizeAt - 4, "a fill value", body.Length);
        }

        /// <summary>
        /// The size of the elements that the shuffle filter of the filter pipeline message <paramref name="body"/> shuffles,
        /// or null where it has none (or is of a layout this walk does not read: PureHDF judges it). Version 1: the version,
        /// the number of filters, 6 reserved bytes; then each filter's identifier, name length, flags and number of client
        /// data values (2 bytes each), its name (padded to a multiple of 8 bytes) and its client data values (4 bytes each,
        /// padded to a multiple of 8 bytes). Version 2: the version and the number of filters; then each filter's
        /// identifier, for identifiers from 256 on its name length, its flags and number of client data values, the name
        /// (unpadded) and the client data values.
        /// </summary>
        private static uint? ShuffledSize(ReadOnlySpan<byte> body)
        {
            if (body.Length < 2 || body[0] is not (1 or 2))
            {
                return null;
            }
            int version = body[0];
            int at = version == 1 ? 8 : 2;
            for (int filter = 0; filter < body[1]; filter++)
            {
                if (at + 2 > body.Length)
                {
                    return null;
                }
                int id = BinaryPrimitives.ReadUInt16LittleEndian(body[at..]);
                bool named = version == 1 || id >= 256;
                int fields = at + (named ? 8 : 6);
                if (fields > body.Length)
                {
                    return null;
                }
                int nameLength = named ? BinaryPrimitives.ReadUInt16LittleEndian(body[(at + 2)..]) : 0;
                int values = BinaryPrimitives.ReadUInt16LittleEndian(body[(fields - 2)..]);
                int valuesAt = fields + nameLength;
                if (valuesAt + 4L * values > body.Length)
                {
                    return null;
                }
                if (id == ShuffleFilter)
                {
                    return values > 0 ? BinaryPrimitives.ReadUInt32LittleEndian(body[valuesAt..]) : null;
                }
                at = valuesAt + 4 * values + (version == 1 && values % 2 == 1 ? 4 : 0);
            }
            return null;
        }

        /// <summary>
        /// Refuses a dataset whose shuffle filter shuffles elements of another size than its values': HDF5 writes the
        /// values' size there, and a damaged one reorders the bytes of every value without an error from PureHDF or HDF5.
        /// </summary>
        private void CheckShuffledSizes()
        {
            foreach ((long header, uint shuffled) in _shuffledSizes)
            {
                if (_valueSizes.TryGetValue(header, out uint size) && shuffled != size)
                {
                    throw Damaged($"its object header at byte {header} gives a shuffle filter for elements of {shuffled} bytes, " +
                        $"but values of {size} bytes: the filter would reorder the bytes of every value");
                }
            }
        }

        /// <summary>
        /// The link message: version 1, flags, the link type (where flag 0x08 says), the creation order (8 bytes, flag 0x04),
        /// the name's character set (flag 0x10), the name's length (in 1, 2, 4 or 8 bytes, by flags 0x03) and the name; then
        /// for a hard link (type 0) the object header's address.
        /// </summary>
        private void CheckLink(long header, ReadOnlySpan<byte> body)
        {
            Need(header, body, 2, "a link");
            if (body[0] != 1)
            {
                return;  // PureHDF refuses other versions
            }
            byte flags = body[1];
            int at = 2;
            byte linkType = 0;
            if ((flags & 0x08) != 0)
            {
                Need(header, body, at + 1, "a link");
                linkType = body[at++];
            }
            at += ((flags & 0x04) != 0 ? 8 : 0) + ((flags & 0x10) != 0 ? 1 : 0);
            int lengthSize = 1 << (flags & 0x03);
            Need(header, body, at + lengthSize, "a link");
            ulong nameLength = ReadUnsigned(body.Slice(at, lengthSize));
            at += lengthSize;
            CheckFits(header, nameLength, body.Length - at, "a link name", body.Length);
            at += (int)nameLength;
            if (linkType == 0)
            {
                Need(header, body, at + _offsetSize, "a link");
                Enqueue(Kind.Header, Offset(body, at));
            }
        }

        /// <summary>
        /// The data layout message. Versions 1 and 2: the version, the number of dimensions, the layout class, 5 reserved
        /// bytes, the address (not for compact data), the dimensions (4 bytes each), for chunks the element size (4 bytes),
        /// and for compact data its size (4 bytes) and the data. Version 3: the version and the class; then for compact
        /// data its size (2 bytes) and the data, for contiguous data its address and size, for chunks the number of
        /// dimensions, the chunk index's address and the dimensions. Version 4 is the newer format's, left for PureHDF.
        /// Only compact data's size is checked: PureHDF allocates it as it reads the message. Contiguous data it reads at
        /// the dataset's size, whatever size the message gives, and chunks as <see cref="ChunkIndex"/> checks them.
        /// </summary>
        private void CheckDataLayout(long header, ReadOnlySpan<byte> body)
        {
            Need(header, body, 2, "a data layout");
            if (body[0] is 1 or 2)
            {
                Need(header, body, 8, "a data layout");
                int rank = body[1];
                if (body[2] == 0)
                {
                    int sizeAt = 8 + 4 * rank;
                    Need(header, body, sizeAt + 4, "a data layout");
                    CheckFits(header, BinaryPrimitives.ReadUInt32LittleEndian(body[sizeAt..]), body.Length - sizeAt - 4, "compact values", body.Length);
                }
            }
            else if (body[0] == 3 && body[1] == 0)
            {
                Need(header, body, 4, "a data layout");
                CheckFits(header, BinaryPrimitives.ReadUInt16LittleEndian(body[2..]), body.Length - 4, "compact values", body.Length);
            }
        }

        /// <summary>
        /// The attribute message: its version, a reserved byte (version 1) or flags (0x01 and 0x02: a shared datatype and
        /// dataspace), the sizes (2 bytes each) of its name, datatype and dataspace, for version 3 the name's character set
        /// (1 byte); then the NUL-terminated name, the datatype and the dataspace (each padded to a multiple of 8 bytes in
        /// version 1), and the values: as many as the dataspace holds, each of the datatype's size, which PureHDF allocates
        /// at once. PureHDF reads the name to its NUL and the datatype and dataspace by their contents, padded by the sizes
        /// the message gives, and so are they followed here: none of it may lie past the message.
        /// </summary>
        private void CheckAttribute(long header, ReadOnlySpan<byte> body)
        {
            Need(header, body, 1, "an attribute");
            int version = body[0];
            if (version is not (1 or 2 or 3))
            {
                return;  // PureHDF refuses other versions
            }
            Need(header, body, version == 3 ? 9 : 8, "an attribute");
            if (version > 1 && (body[1] & 0x03) != 0)
            {
                return;  // a shared datatype or dataspace lies elsewhere: PureHDF judges it
            }
            int Padding(int size) => version == 1 ? -size & 7 : 0;
            int typeSize = BinaryPrimitives.ReadUInt16LittleEndian(body[4..]);
            int spaceSize = BinaryPrimitives.ReadUInt16LittleEndian(body[6..]);
            int typeAt = NameEnd(body, version == 3 ? 9 : 8, padded: version == 1);
            int? typeEnd = typeAt == PastMessage ? PastMessage : DatatypeEnd(header, body, typeAt, 0);
            if (typeEnd is null)
            {
                return;  // a datatype this walk does not read: PureHDF judges it
            }
            int spaceAt = typeEnd == PastMessage ? PastMessage : typeEnd.Value + Padding(typeSize);
            UInt128? count = ValueCount(body, spaceAt, out int spaceEnd);
            if (count is null && spaceEnd != PastMessage)
            {
                return;  // a dataspace this walk does not read: PureHDF judges it
            }
            int valuesAt = spaceEnd == PastMessage ? PastMessage : spaceEnd + Padding(spaceSize);
            if (valuesAt > body.Length)
            {
                throw Damaged($"its object header at byte {header} has an attribute whose name, datatype or dataspace runs past " +
                    "the end of its message");
            }
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(body[(typeAt + 4)..]);
            if (count * size > (UInt128)(body.Length - valuesAt))
            {
                throw Damaged($"its object header at byte {header} has an attribute of {count} values of {size} bytes, " +
                    $"more than its message of {body.Length} bytes holds");
            }
        }

        /// <summary>
        /// How many values the dataspace at <paramref name="at"/> of <paramref name="body"/> holds, as PureHDF reads it, and
        /// where it ends (<see cref="PastMessage"/> where that is past the message); null where it is not one PureHDF reads.
        /// Version 1: the version, the number of dimensions, flags and 5 reserved bytes; version 2: the version, the number of
        /// dimensions, flags and the type (0 scalar, 1 simple, 2 null). Then the dimensions, the maximum dimensions (where
        /// flag 0x01 says) and a permutation (flag 0x02), each of the size of lengths. A dataspace of version 1 without
        /// dimensions holds one value.
        /// </summary>
        private UInt128? ValueCount(ReadOnlySpan<byte> body, int at, out int end)
        {
            end = PastMessage;
            if (at > body.Length - 4)
            {
                return null;
            }
            int version = body[at], rank = body[at + 1], flags = body[at + 2];
            if (version is not (1 or 2) || version == 2 && body[at + 3] > 2)
            {
                end = 0;
                return null;
            }
            int dimensionsAt = at + (version == 1 ? 8 : 4);
            int lists = 1 + ((flags & 0x01) != 0 ? 1 : 0) + ((flags & 0x02) != 0 ? 1 : 0);
            if (dimensionsAt + (long)lists * rank * _lengthSize > body.Length)
            {
                return null;
            }
            end = dimensionsAt + lists * rank * _lengthSize;
            if (version == 2 && body[at + 3] != 1)
            {
                return body[at + 3] == 0 ? UInt128.One : UInt128.Zero;
            }
            UInt128 count = 1;
            for (int i = 0; i < rank; i++)
            {
                // Saturated: a count this large fits in no message either.
                count = UInt128.Min(count * ReadUnsigned(body.Slice(dimensionsAt + i * _lengthSize, _lengthSize)), ulong.MaxValue);
            }
            return count;
        }

        /// <summary>Where a datatype, a dataspace or a name ends that PureHDF would read past the end of its message.</summary>
        private const int PastMessage = int.MaxValue;

        /// <summary>
        /// Where the datatype at <paramref name="at"/> of <paramref name="body"/> ends as PureHDF reads it, <see cref="PastMessage"/>
        /// where that is past the message, or null where it is not one this walk reads (of a version or class PureHDF refuses,
        /// or nested too deep): a byte of class (low 4 bits) and version, 3 bytes of class bits, the size (4 bytes), then the
        /// class's properties. An enumeration lists, after its base type, its names and then its values, as many as the class
        /// bits give, each of the type's size: those PureHDF allocates, and they must fit in the message.
        /// </summary>
        private int? DatatypeEnd(long header, ReadOnlySpan<byte> body, int at, int nesting)
        {
            if (nesting > MaxTypeNesting)
            {
                return null;
            }
            if (at > body.Length - 8)
            {
                return PastMessage;
            }
            int version = body[at] >> 4;
            int members = BinaryPrimitives.ReadUInt16LittleEndian(body[(at + 1)..]);
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(body[(at + 4)..]);
            if (version is not (1 or 2 or 3))
            {
                return null;
            }
            int? end = (body[at] & 0x0F) switch
            {
                0 or 4 => at + 12,  // fixed-point, bitfield: bit offset and precision
                1 => at + 20,  // floating-point: bit offset and precision, exponent and mantissa locations and sizes, exponent bias
                2 => at + 10,  // time: bit precision
                3 or 7 => at + 8,  // string, reference
                5 => at + 8 + body[at + 1],  // opaque: its tag, of the length the class bits give
                6 => CompoundEnd(header, body, at + 8, version, members, size, nesting),
                8 => EnumerationEnd(header, body, at + 8, version, members, size, nesting),
                9 => DatatypeEnd(header, body, at + 8, nesting + 1),  // variable-length: its base type
                10 => ArrayEnd(header, body, at + 8, version, nesting),
                _ => null,
            };
            return end > body.Length ? PastMessage : end;
        }

        /// <summary>
        /// A compound type's members: each a name (NUL-terminated; padded to a multiple of 8 bytes before version 3), its
        /// byte offset (4 bytes; in version 3 as few as the type's size needs), in version 1 a number of dimensions, 3
        /// reserved bytes, a permutation (4), 4 reserved bytes and 4 dimensions (4 bytes each); then its type.
        /// </summary>
        private int? CompoundEnd(long header, ReadOnlySpan<byte> body, int at, int version, int members, uint size, int nesting)
        {
            int log2 = size == 0 ? 0 : 31 - (int)uint.LeadingZeroCount(size);
            int offsetSize = version == 3 ? log2 / 8 + 1 : 4;
            for (int i = 0; i < members && at != PastMessage; i++)
            {
                int name = NameEnd(body, at, padded: version < 3);
                if (name == PastMessage || DatatypeEnd(header, body, name + offsetSize + (version == 1 ? 28 : 0), nesting + 1) is not { } end)
                {
                    return name == PastMessage ? PastMessage : null;
                }
                at = end;
            }
            return at;
        }

        /// <summary>An enumeration's base type, its names (NUL-terminated; padded to a multiple of 8 bytes before version 3) and its values.</summary>
        private int? EnumerationEnd(long header, ReadOnlySpan<byte> body, int at, int version, int members, uint size, int nesting)
        {
            if (DatatypeEnd(header, body, at, nesting + 1) is not { } names)
            {
                return null;
            }
            at = names;
            for (int i = 0; i < members && at != PastMessage; i++)
            {
                at = NameEnd(body, at, padded: version < 3);
            }
            if (at == PastMessage)
            {
                return PastMessage;
            }
            if ((ulong)members * size > (ulong)(body.Length - at))
            {
                throw Damaged($"its object header at byte {header} has an enumeration type of {members} values of {size} bytes, " +
                    "which run past the end of its message");
            }
            return at + members * (int)size;
        }

        /// <summary>
        /// An array type: its number of dimensions, in version 2 3 reserved bytes, the dimensions (4 bytes each), in version 2
        /// a permutation (4 bytes each); then its base type.
        /// </summary>
        private int? ArrayEnd(long header, ReadOnlySpan<byte> body, int at, int version, int nesting) =>
            at >= body.Length ? PastMessage : DatatypeEnd(header, body, at + (version == 2 ? 4 + 8 * body[at] : 1 + 4 * body[at]), nesting + 1);

        /// <summary>
        /// Where a NUL-terminated name at <paramref name="at"/> ends, padded or not to a multiple of 8 bytes; <see cref="PastMessage"/>
        /// where no NUL ends it in the message, or where <paramref name="at"/> already is.
        /// </summary>
        private static int NameEnd(ReadOnlySpan<byte> body, int at, bool padded)
        {
            int nul = at < body.Length ? body[at..].IndexOf((byte)0) : -1;
            return nul < 0 ? PastMessage : at + (padded ? (nul + 1 + 7) & ~7 : nul + 1);
        }

        /// <summary>Checks a continuation message's block, of the earlier format: messages alone, from its first byte.</summary>
        private void CheckContinuation(long header, ulong address, ulong length)
        {
            if (IsUndefined(address) || address > (ulong)(_length - _baseAddress))
            {
                return;  // none, or beyond the file: PureHDF fails to read it
            }
            long at = _baseAddress + (long)address;
            if (length > (ulong)(_length - at))
            {
                throw Damaged($"its object header at byte {header} continues at byte {at} for {length} bytes, beyond the end of the file");
            }
            if (!_seen.Add((Kind.Continuation, at)))
            {
                throw Damaged($"its object header at byte {header} continues at byte {at}, which another continuation message " +
                    "already gave: the header would be read without end");
            }
            _blocks.Enqueue(new Block(Kind.Continuation, at, (long)length, Owner: header));
        }

        /// <summary>
        /// Checks a node of a group's version 1 B-tree: "TREE", the node type, its level (0 for a leaf), the number of
        /// entries (2 bytes), the siblings' addresses, then the entries' keys (each an offset into the local heap, of the size
        /// of lengths) with the children's addresses between them: nodes of the next level down, or symbol table nodes.
        /// PureHDF reads a group's nodes whatever their node type says.
        /// </summary>
        private void CheckTreeNode(Block block)
        {
            long at = block.At;
            int start = 8 + 2 * _offsetSize;
            if (at + start > _length)
            {
                return;  // PureHDF fails to read it
            }
            byte[] prefix = ReadAt(at, start);
            if (!prefix.AsSpan(0, 4).SequenceEqual(TreeSignature))
            {
                return;  // not a node: PureHDF fails to read it
            }
            int level = prefix[5];
            if (block.Level >= 0 && level != block.Level)
            {
                throw Damaged($"its B-tree node at byte {block.Owner}, of level {block.Level + 1}, lists a node of level {level} " +
                    $"at byte {at}, not of level {block.Level}");
            }
            int entries = BinaryPrimitives.ReadUInt16LittleEndian(prefix.AsSpan(6));
            long size = (long)(entries + 1) * _lengthSize + (long)entries * _offsetSize;
            if (size > _length - at - start)
            {
                throw Damaged($"its B-tree node at byte {at} lists {entries} entries, which run past the end of the file");
            }
            byte[] node = ReadAt(at + start, (int)size);
            for (int i = 0; i < entries; i++)
            {
                ulong child = Offset(node, (i + 1) * _lengthSize + i * _offsetSize);
                if (level > 0)
                {
                    Enqueue(Kind.TreeNode, child, owner: at, level: level - 1);
                }
                else
                {
                    Enqueue(Kind.SymbolNode, child);
                }
            }
        }

        /// <summary>
        /// Checks a symbol table node: "SNOD", its version, a reserved byte, the number of entries (2 bytes), then the
        /// entries. Each entry's object is queued, and where its cache type is 1 (a group), the B-tree and local heap of
        /// its scratch pad, which PureHDF reads the group by.
        /// </summary>
        private void CheckSymbolNode(long at)
        {
            if (at + 8 > _length)
            {
                return;  // PureHDF fails to read it
            }
            byte[] prefix = ReadAt(at, 8);
            if (!prefix.AsSpan(0, 4).SequenceEqual(SymbolNodeSignature))
            {
                return;  // not a symbol table node: PureHDF fails to read it
            }
            int count = BinaryPrimitives.ReadUInt16LittleEndian(prefix.AsSpan(6));
            if ((long)count * SymbolTableEntrySize > _length - at - 8)
            {
                throw Damaged($"its symbol table node at byte {at} lists {count} entries, which run past the end of the file");
            }
            byte[] entries = ReadAt(at + 8, count * SymbolTableEntrySize);
            for (int i = 0; i < count; i++)
            {
                int entry = i * SymbolTableEntrySize;
                Enqueue(Kind.Header, Offset(entries, entry + _lengthSize));
                if (BinaryPrimitives.ReadUInt32LittleEndian(entries.AsSpan(entry + _lengthSize + _offsetSize)) == 1)
                {
                    int scratchPad = entry + _lengthSize + _offsetSize + 8;
                    Enqueue(Kind.TreeNode, Offset(entries, scratchPad));
                    Enqueue(Kind.LocalHeap, Offset(entries, scratchPad + _offsetSize));
                }
            }
        }

        /// <summary>
        /// Checks a local heap: "HEAP", its version, 3 reserved bytes, the size of its data segment, the offset of its free
        /// list (both of the size of lengths) and the data segment's address. PureHDF allocates the data segment's size
        /// before it reads the data segment.
        /// </summary>
        private void CheckLocalHeap(long at)
        {
            int size = 8 + 2 * _lengthSize + _offsetSize;
            if (at + size > _length)
            {
                return;  // PureHDF fails to read it
            }
            byte[] heap = ReadAt(at, size);
            if (!heap.AsSpan(0, 4).SequenceEqual(HeapSignature))
            {
                return;  // not a local heap: PureHDF fails to read it
            }
            ulong dataSize = ReadUnsigned(heap.AsSpan(8, _lengthSize));
            ulong address = Offset(heap, 8 + 2 * _lengthSize);
            if (IsUndefined(address) || address > (ulong)(_length - _baseAddress) || dataSize > (ulong)(_length - _baseAddress) - address)
            {
                throw Damaged($"its local heap at byte {at} gives {dataSize} bytes of names at byte " +
                    $"{(IsUndefined(address) ? "(none)" : ((UInt128)address + (ulong)_baseAddress).ToString())}, which run past the end of the file");
            }
        }

        /// <summary>
        /// Queues the block of <paramref name="kind"/> at an address relative to the base address, unless it is undefined,
        /// beyond the file (PureHDF fails to read it) or already queued (an object may have several links, and a group's
        /// B-tree is given both by its symbol table message and by its entry's scratch pad). A B-tree node that another
        /// node lists must not have been reached before.
        /// </summary>
        private void Enqueue(Kind kind, ulong address, long owner = -1, int level = -1)
        {
            if (IsUndefined(address) || address > (ulong)(_length - _baseAddress))
            {
                return;
            }
            long at = _baseAddress + (long)address;
            if (_seen.Add((kind, at)))
            {
                _blocks.Enqueue(new Block(kind, at, Owner: owner, Level: level));
            }
            else if (kind == Kind.TreeNode && owner >= 0)
            {
                // A node listed twice, by nodes or by itself: PureHDF, which follows a node's entries by the level it reads
                // in each, would follow a loop until the stack overflows.
                throw Damaged($"its B-tree node at byte {owner} lists the node at byte {at}, which the B-tree already holds");
            }
        }

        /// <summary>
        /// Refuses a message (<paramref name="kind"/>: "a fill value", say) of fewer than <paramref name="bytes"/> bytes, too
        /// short for the fields PureHDF reads from it (HDF5 writes none so): PureHDF would read them from the bytes that
        /// follow, and allocate what a size among them claims.
        /// </summary>
        private void Need(long header, ReadOnlySpan<byte> body, int bytes, string kind)
        {
            if (body.Length < bytes)
            {
                throw Damaged($"its object header at byte {header} has {kind} message of {body.Length} bytes, too short for its fields");
            }
        }

        /// <summary>Refuses <paramref name="what"/> of <paramref name="size"/> bytes where only <paramref name="room"/> are left in its message of <paramref name="message"/> bytes.</summary>
        private void CheckFits(long header, ulong size, int room, string what, int message)
        {
            if (size > (ulong)room)
            {
                throw Damaged($"its object header at byte {header} gives {what} of {size} bytes, more than its message of {message} bytes holds");
            }
        }

        private byte[] ReadAt(long at, int count)
        {
            var bytes = new byte[count];
            file.Position = at;
            file.ReadExactly(bytes);
            return bytes;
        }

        private ulong Offset(ReadOnlySpan<byte> bytes, int at) => ReadUnsigned(bytes.Slice(at, _offsetSize));

        private bool IsUndefined(ulong address) => MetadataChecksums.IsUndefinedAddress(address, _offsetSize);

        private static ulong ReadUnsigned(ReadOnlySpan<byte> bytes) => MetadataChecksums.ReadUnsigned(bytes);

        private InvalidDataException Damaged(string problem) => MetadataChecksums.Damaged(source, problem);
    }
}
