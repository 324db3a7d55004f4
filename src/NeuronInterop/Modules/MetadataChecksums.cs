using System.Buffers.Binary;

namespace NeuronInterop.Modules;

/// <summary>
/// Checks the checksums of an HDF5 file's metadata before PureHDF reads it. From superblock version 2
/// on, HDF5 puts a checksum (Bob Jenkins' lookup3) at the end of its metadata blocks, among them the
/// superblock and every object header, which holds a dataset's small (compact) values as well as the
/// sizes and addresses of all the rest. PureHDF writes these checksums but never checks them: a
/// damaged header loads changed values without a word, or makes PureHDF allocate what a damaged size
/// claims (gigabytes, from one changed byte) before it fails. So the superblock, and every object header
/// reached from the root group through hard links kept in the headers themselves, is checked here
/// first, reading no more than the file holds, and a file shorter than its superblock says is refused
/// as truncated. Files of the earlier format (superblock version 0 or 1, which h5py writes by default)
/// carry no checksums, but for the object headers of the newer format they may hold (see
/// <see cref="VerifyHeaderOfNewerFormat"/>): <see cref="EarlierFormatStructure"/> checks their length,
/// and their structure's sizes and addresses against the file. The objects a group links to from a fractal
/// heap (a group of many links in the newer format) are not reached, and are left unchecked.
/// </summary>
internal static class MetadataChecksums
{
    /// <summary>The eight bytes that begin an HDF5 superblock.</summary>
    internal static ReadOnlySpan<byte> FileSignature => [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0D, 0x0A, 0x1A, 0x0A];
    private static ReadOnlySpan<byte> HeaderSignature => "OHDR"u8;
    private static ReadOnlySpan<byte> ContinuationSignature => "OCHK"u8;

    private const byte LinkMessage = 0x06;
    private const byte ContinuationMessage = 0x10;

    /// <summary>
    /// Checks the superblock and the object headers of the file in <paramref name="stream"/> (from its
    /// first byte), and leaves the stream at position 0. Anything it does not recognise is left for
    /// PureHDF to judge.
    /// </summary>
    /// <exception cref="InvalidDataException">A checksum does not match, a checksummed block runs past the end of the
    /// file, or the file is shorter than its superblock says.</exception>
    internal static void Verify(Stream stream, string source)
    {
        try
        {
            new Walk(stream, source).Run();
        }
        finally
        {
            stream.Position = 0;
        }
    }

    /// <summary>
    /// Checks an object header of the newer format ("OHDR", with its checksum) at <paramref name="at"/> in a file of the
    /// earlier format, where HDF5 writes one for a group that keeps its links in creation order (h5py's
    /// <c>track_order=True</c>), and its continuation blocks; and gives the address (from the base address) of each object
    /// header its hard links name to <paramref name="hardLink"/>, for <see cref="EarlierFormatStructure"/> to walk on.
    /// </summary>
    /// <exception cref="InvalidDataException">A checksum does not match, or a block runs past the end of the file.</exception>
    internal static void VerifyHeaderOfNewerFormat(Stream stream, string source, long at, int offsetSize, int lengthSize,
        long baseAddress, Action<ulong> hardLink) =>
        new Walk(stream, source).RunFrom(at, offsetSize, lengthSize, baseAddress, hardLink);

    /// <summary>
    /// Where the superblock of the HDF5 file in <paramref name="stream"/> lies: HDF5 puts it at byte 0, or after a user
    /// block (data of other programs) at byte 512, 1024, 2048, …; null where no HDF5 signature lies at any of them.
    /// The stream's position is left where the last read ended.
    /// </summary>
    internal static long? SuperblockPosition(Stream stream)
    {
        Span<byte> signature = stackalloc byte[8];
        for (long at = 0; at + 8 <= stream.Length; at = at == 0 ? 512 : at * 2)
        {
            stream.Position = at;
            stream.ReadExactly(signature);
            if (signature.SequenceEqual(FileSignature))
            {
                return at;
            }
        }
        return null;
    }

    /// <summary>An unsigned little-endian number of 1 to 8 bytes: an HDF5 address or length.</summary>
    internal static ulong ReadUnsigned(ReadOnlySpan<byte> bytes)
    {
        ulong value = 0;
        for (int i = bytes.Length - 1; i >= 0; i--)
        {
            value = (value << 8) | bytes[i];
        }
        return value;
    }

    /// <summary>Whether <paramref name="address"/>, of <paramref name="offsetSize"/> bytes, is HDF5's undefined address (all bits set).</summary>
    internal static bool IsUndefinedAddress(ulong address, int offsetSize) =>
        address == (offsetSize == 8 ? ulong.MaxValue : (1UL << (8 * offsetSize)) - 1);

    /// <summary>
    /// Refuses a file of <paramref name="length"/> bytes shorter than its superblock's end-of-file address, as HDF5 does.
    /// Whether that address counts from the file's first byte or from the base address (never before it), a file
    /// shorter than the address itself is cut short, so a whole file is never refused.
    /// </summary>
    internal static void CheckNotTruncated(ulong endOfFile, int offsetSize, long length, string source)
    {
        if (!IsUndefinedAddress(endOfFile, offsetSize) && endOfFile > (ulong)length)
        {
            throw Damaged(source, $"it is truncated: its superblock says it ends at byte {endOfFile}, but it holds {length} bytes");
        }
    }

    /// <summary>The refusal of the file <paramref name="source"/> as damaged, saying what <paramref name="problem"/> was found.</summary>
    internal static InvalidDataException Damaged(string source, string problem) => new(
        $"{source} is damaged: {problem}. No values were loaded; save the parameters again, or load an undamaged copy.");

    /// <summary>
    /// HDF5's checksum: lookup3's <c>hashlittle</c> with an initial value of 0 (lookup3.c, Bob Jenkins,
    /// 2006, public domain).
    /// </summary>
    internal static uint Lookup3(ReadOnlySpan<byte> key)
    {
        var hash = new Lookup3State(key.Length);
        while (key.Length > 12)
        {
            hash.Mix(key);
            key = key[12..];
        }
        return hash.Final(key);
    }

    /// <summary><see cref="Lookup3(ReadOnlySpan{byte})"/> of the next <paramref name="length"/> bytes of <paramref name="stream"/>, read 64 KiB at a time.</summary>
    internal static uint Lookup3(Stream stream, long length)
    {
        var hash = new Lookup3State(length);
        var buffer = new byte[(int)Math.Min(12 * 5461, (length + 11) / 12 * 12)];
        long remaining = length;
        while (remaining > 12)
        {
            // Whole 12-byte blocks, leaving 1 to 12 bytes for the end.
            int take = (int)Math.Min(buffer.Length, (remaining - 1) / 12 * 12);
            stream.ReadExactly(buffer, 0, take);
            for (int i = 0; i < take; i += 12)
            {
                hash.Mix(buffer.AsSpan(i));
            }
            remaining -= take;
        }
        stream.ReadExactly(buffer, 0, (int)remaining);
        return hash.Final(buffer.AsSpan(0, (int)remaining));
    }

    private struct Lookup3State(long length)
    {
        private uint _a = 0xDEADBEEF + (uint)length, _b = 0xDEADBEEF + (uint)length, _c = 0xDEADBEEF + (uint)length;

        /// <summary>Takes the next 12 bytes (of more than 12 left).</summary>
        public void Mix(ReadOnlySpan<byte> block)
        {
            uint a = _a + BinaryPrimitives.ReadUInt32LittleEndian(block);
            uint b = _b + BinaryPrimitives.ReadUInt32LittleEndian(block[4..]);
            uint c = _c + BinaryPrimitives.ReadUInt32LittleEndian(block[8..]);
            a -= c; a ^= uint.RotateLeft(c, 4); c += b;
            b -= a; b ^= uint.RotateLeft(a, 6); a += c;
            c -= b; c ^= uint.RotateLeft(b, 8); b += a;
            a -= c; a ^= uint.RotateLeft(c, 16); c += b;
            b -= a; b ^= uint.RotateLeft(a, 19); a += c;
            c -= b; c ^= uint.RotateLeft(b, 4); b += a;
            (_a, _b, _c) = (a, b, c);
        }

        /// <summary>Takes the last 0 to 12 bytes, zero-padded, and gives the hash.</summary>
        public readonly uint Final(ReadOnlySpan<byte> tail)
        {
            if (tail.Length == 0)
            {
                return _c;
            }
            Span<byte> last = stackalloc byte[12];
            last.Clear();
            tail.CopyTo(last);
            uint a = _a + BinaryPrimitives.ReadUInt32LittleEndian(last);
            uint b = _b + BinaryPrimitives.ReadUInt32LittleEndian(last[4..]);
            uint c = _c + BinaryPrimitives.ReadUInt32LittleEndian(last[8..]);
            c ^= b; c -= uint.RotateLeft(b, 14);
            a ^= c; a -= uint.RotateLeft(c, 11);
            b ^= a; b -= uint.RotateLeft(a, 25);
            c ^= b; c -= uint.RotateLeft(b, 16);
            a ^= c; a -= uint.RotateLeft(c, 4);
            b ^= a; b -= uint.RotateLeft(a, 14);
            c ^= b; c -= uint.RotateLeft(b, 24);
            return c;
        }
    }

    private sealed class Walk(Stream stream, string source)
    {
        private readonly long _length = stream.Length;
        private readonly HashSet<long> _seen = [];
        private readonly Queue<Block> _blocks = new();
        private int _offsetSize;
        private int _lengthSize;
        private long _baseAddress;
        private Action<ulong>? _hardLink;  // where hard links go instead of into the walk (see RunFrom)

        public void Run()
        {
            if (SuperblockPosition(stream) is not { } at || at + 9 > _length)
            {
                return;  // not HDF5: PureHDF says so
            }
            byte version = ReadAt(at + 8, 1)[0];
            if (version is not (2 or 3))
            {
                return;  // versions 0 and 1 have no checksums (EarlierFormatStructure checks them); later ones PureHDF refuses
            }

            // Version 2 and 3: signature, version, sizes of offsets and lengths, flags, then four
            // addresses (base, superblock extension, end of file, root group's object header) and the checksum.
            byte[] sizes = ReadAt(at + 9, 2);
            _offsetSize = sizes[0];
            _lengthSize = sizes[1];
            Check(at, 12 + 4 * _offsetSize, "superblock");
            if (_offsetSize is not (2 or 4 or 8) || _lengthSize is not (2 or 4 or 8))
            {
                return;  // intact, but of sizes this walk does not read (HDF5 also allows 16): PureHDF judges them
            }
            byte[] superblock = ReadAt(at, 12 + 4 * _offsetSize);
            CheckNotTruncated(Offset(superblock, 12 + 2 * _offsetSize));
            ulong baseAddress = Offset(superblock, 12);
            if (baseAddress > (ulong)_length)
            {
                return;  // nothing of it lies in the file: PureHDF fails to read it
            }
            _baseAddress = (long)baseAddress;
            Enqueue(Offset(superblock, 12 + _offsetSize), null, false);  // the superblock extension, an object header
            Enqueue(Offset(superblock, 12 + 3 * _offsetSize), null, false);
            CheckQueued();
        }

        /// <summary>Checks the object header at <paramref name="at"/> and its continuation blocks; hard links go to <paramref name="hardLink"/>.</summary>
        public void RunFrom(long at, int offsetSize, int lengthSize, long baseAddress, Action<ulong> hardLink)
        {
            (_offsetSize, _lengthSize, _baseAddress, _hardLink) = (offsetSize, lengthSize, baseAddress, hardLink);
            _seen.Add(at);
            _blocks.Enqueue(new Block(at, null, false));
            CheckQueued();
        }

        private void CheckQueued()
        {
            while (_blocks.TryDequeue(out Block block))
            {
                if (block.ContinuationLength is { } length)
                {
                    CheckContinuation(block.At, length, block.WithCreationOrder);
                }
                else
                {
                    CheckHeader(block.At);
                }
            }
        }

        private void CheckNotTruncated(ulong endOfFile) => MetadataChecksums.CheckNotTruncated(endOfFile, _offsetSize, _length, source);

        /// <summary>Checks a version 2 object header and queues what its messages point to.</summary>
        private void CheckHeader(long at)
        {
            if (at + 6 > _length)
            {
                return;  // PureHDF fails to read it
            }
            byte[] start = ReadAt(at, 6);
            if (!start.AsSpan(0, 4).SequenceEqual(HeaderSignature) || start[4] != 2)
            {
                return;  // a version 1 header has no checksum; anything else PureHDF refuses
            }
            byte flags = start[5];
            int prefix = 6 + ((flags & 0x20) != 0 ? 16 : 0) + ((flags & 0x10) != 0 ? 4 : 0);
            int sizeField = 1 << (flags & 0x03);
            if (at + prefix + sizeField > _length)
            {
                throw Damaged($"its object header at byte {at} runs past the end of the file");
            }
            ulong messages = ReadUnsigned(ReadAt(at + prefix, sizeField));
            int messagesAt = prefix + sizeField;
            long room = _length - at - messagesAt - 4;
            if (room < 0 || messages > (ulong)room)
            {
                throw Damaged($"its object header at byte {at} runs past the end of the file");
            }
            Check(at, messagesAt + (long)messages, $"object header at byte {at}");
            // Checked, the header is as its writer wrote it: PureHDF reads all of it too.
            byte[] header = ReadAt(at + messagesAt, checked((int)messages));
            ReadMessages(header, withCreationOrder: (flags & 0x04) != 0);
        }

        /// <summary>Checks a continuation block of an object header, whose place and size the header gave.</summary>
        private void CheckContinuation(long at, long length, bool withCreationOrder)
        {
            if (length < 8 || length > _length - at)
            {
                throw Damaged($"its object header continues at byte {at} for {length} bytes, beyond the end of the file");
            }
            Check(at, length - 4, $"object header continuation at byte {at}");
            byte[] block = ReadAt(at, checked((int)length - 4));
            if (!block.AsSpan(0, 4).SequenceEqual(ContinuationSignature))
            {
                throw Damaged($"its object header continues at byte {at}, where no continuation block lies");
            }
            ReadMessages(block.AsSpan(4), withCreationOrder);
        }

        /// <summary>Queues the continuation blocks and the hard links' object headers that a header's messages name.</summary>
        private void ReadMessages(ReadOnlySpan<byte> messages, bool withCreationOrder)
        {
            int headerSize = withCreationOrder ? 6 : 4;
            while (messages.Length >= headerSize)
            {
                byte type = messages[0];
                int size = BinaryPrimitives.ReadUInt16LittleEndian(messages[1..]);
                bool shared = (messages[3] & 0x02) != 0;
                if (headerSize + size > messages.Length)
                {
                    return;
                }
                ReadOnlySpan<byte> body = messages.Slice(headerSize, size);
                messages = messages[(headerSize + size)..];
                if (shared)
                {
                    continue;
                }
                if (type == ContinuationMessage && body.Length >= _offsetSize + _lengthSize)
                {
                    // The block's address, then its length, in the file's size of lengths (4 where addresses take 8, say).
                    ulong length = ReadUnsigned(body.Slice(_offsetSize, _lengthSize));
                    Enqueue(Offset(body, 0), (long)Math.Min(length, long.MaxValue), withCreationOrder);
                }
                else if (type == LinkMessage && HardLinkAddress(body) is { } target)
                {
                    if (_hardLink is not null)
                    {
                        _hardLink(target);
                    }
                    else
                    {
                        Enqueue(target, null, false);
                    }
                }
            }
        }

        /// <summary>The object header address of a link message's hard link, or null for another kind of link.</summary>
        private ulong? HardLinkAddress(ReadOnlySpan<byte> body)
        {
            if (body.Length < 2 || body[0] != 1)
            {
                return null;
            }
            byte flags = body[1];
            int at = 2;
            byte linkType = 0;
            if ((flags & 0x08) != 0)
            {
                if (at >= body.Length)
                {
                    return null;
                }
                linkType = body[at++];
            }
            at += ((flags & 0x04) != 0 ? 8 : 0) + ((flags & 0x10) != 0 ? 1 : 0);
            int lengthSize = 1 << (flags & 0x03);
            if (linkType != 0 || at + lengthSize > body.Length)
            {
                return null;
            }
            ulong nameLength = ReadUnsigned(body.Slice(at, lengthSize));
            int room = body.Length - at - lengthSize - _offsetSize;
            if (room < 0 || nameLength > (ulong)room)
            {
                return null;
            }
            return Offset(body, at + lengthSize + (int)nameLength);
        }

        /// <summary>
        /// Queues the object header (or, with <paramref name="continuationLength"/>, the continuation block)
        /// at an address relative to the base address, unless it is undefined or already queued.
        /// </summary>
        private void Enqueue(ulong address, long? continuationLength, bool withCreationOrder)
        {
            if (IsUndefined(address) || address > (ulong)(_length - _baseAddress))
            {
                return;  // none, or beyond the file: PureHDF fails to read it
            }
            long at = _baseAddress + (long)address;
            if (_seen.Add(at))
            {
                _blocks.Enqueue(new Block(at, continuationLength, withCreationOrder));
            }
        }

        /// <summary>Compares the checksum of the <paramref name="length"/> bytes at <paramref name="at"/> with the 4 bytes after them.</summary>
        private void Check(long at, long length, string what)
        {
            if (length > _length - at - 4)
            {
                throw Damaged($"its {what} runs past the end of the file");
            }
            stream.Position = at;
            uint computed = Lookup3(stream, length);
            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(ReadAt(at + length, 4));
            if (computed != stored)
            {
                throw Damaged($"the checksum of its {what} does not match its contents");
            }
        }

        private byte[] ReadAt(long at, int count)
        {
            var bytes = new byte[count];
            stream.Position = at;
            stream.ReadExactly(bytes);
            return bytes;
        }

        private ulong Offset(ReadOnlySpan<byte> bytes, int at) => ReadUnsigned(bytes.Slice(at, _offsetSize));

        private bool IsUndefined(ulong address) => IsUndefinedAddress(address, _offsetSize);

        /// <summary>An object header (<see cref="ContinuationLength"/> null) or a continuation block of one.</summary>
        private readonly record struct Block(long At, long? ContinuationLength, bool WithCreationOrder);

        private InvalidDataException Damaged(string problem) => MetadataChecksums.Damaged(source, problem);
    }
}
