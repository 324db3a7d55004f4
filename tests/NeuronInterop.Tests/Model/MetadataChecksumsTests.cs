using NeuronInterop.Modules;
using NUnit.Framework;

namespace NeuronInterop.Tests.Model;

/// <summary>
/// <see cref="MetadataChecksums.Lookup3(ReadOnlySpan{byte})"/> against HDF5's own <c>H5_checksum_lookup3</c> (initial
/// value 0), on every length up to 40 bytes (each remainder of the 12-byte blocks) and on lengths around the 64 KiB
/// that the stream variant reads at a time. A difference would refuse every file HDF5 writes in the newer format.
/// </summary>
public sealed class MetadataChecksumsTests
{
    // H5_checksum_lookup3(key, length, 0) of the first `length` bytes of Key, as HDF5 1.10.8 computes them.
    private static readonly uint[] ShortKeys =
    [
        0xDEADBEEF, 0xB9C0F036, 0x76CCDD71, 0xA71025C3, 0x44E1A72E, 0xCD53084D, 0x16055DA4, 0x4F96845F,
        0x39C60A25, 0xA68C01F8, 0x98B8E7C6, 0x37D9D710, 0x387958F9, 0x0D543670, 0xC23082D0, 0x3EB394F6,
        0x7F4B8AE7, 0xE92A9CCF, 0xDD3CDD0E, 0xA78188F7, 0xC84FB716, 0xD7115F5F, 0x8252AC1A, 0x63D5873F,
        0x2D9723A7, 0x43BD1AA6, 0x11C19254, 0x58218F52, 0x8546EEFB, 0xC461B8D2, 0x522C3EBA, 0x940B7AA0,
        0x0636A5D3, 0x7226434E, 0xBDFB3B50, 0x03AE06C5, 0xB1BFAF9F, 0x8ED39EBC, 0x2096EF5E, 0x1D9FE8CD,
    ];

    /// <summary>The bytes hashed: byte i is (37 i + 11) mod 256.</summary>
    private static byte[] Key(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 37 + 11)).ToArray();

    [Test]
    public void ShortKeysHashAsHdf5HashesThem()
    {
        byte[] key = Key(ShortKeys.Length);
        Assert.Multiple(() =>
        {
            for (int length = 0; length < ShortKeys.Length; length++)
            {
                Assert.That(MetadataChecksums.Lookup3(key.AsSpan(0, length)), Is.EqualTo(ShortKeys[length]), $"{length} bytes");
                Assert.That(MetadataChecksums.Lookup3(new MemoryStream(key), length), Is.EqualTo(ShortKeys[length]), $"{length} bytes from a stream");
            }
        });
        // lookup3.c's own example.
        Assert.That(MetadataChecksums.Lookup3("Four score and seven years ago"u8), Is.EqualTo(0x17770551u));
    }

    [TestCase(65531, 0x7FCD3E1Cu)]
    [TestCase(65532, 0x5ADC6BDCu)]  // the stream variant's buffer, 5461 blocks of 12 bytes
    [TestCase(65533, 0xEB6B4CC9u)]
    [TestCase(65544, 0x52ACBBE4u)]
    [TestCase(65545, 0x41862EE6u)]
    [TestCase(131076, 0x066BED59u)]
    [TestCase(200000, 0x7FF3B8AEu)]
    public void LongKeysHashAsHdf5HashesThem(int length, uint expected)
    {
        byte[] key = Key(length);

        Assert.That(MetadataChecksums.Lookup3(key), Is.EqualTo(expected));
        Assert.That(MetadataChecksums.Lookup3(new MemoryStream(key), length), Is.EqualTo(expected), "from a stream");
    }
}
