using System.Buffers.Binary;
using NUnit.Framework;
using SkiaSharp;

namespace NeuronInterop.Tests.Cli;

/// <summary>Reads a PNG file's header by hand and decodes the whole image.</summary>
internal static class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Width and height from the IHDR chunk, which must follow the PNG signature.</summary>
    public static (int Width, int Height) ReadHeader(string path)
    {
        byte[] head = new byte[24];
        using (var stream = File.OpenRead(path))
            stream.ReadExactly(head);
        Assert.That(head.AsSpan(0, 8).SequenceEqual(Signature), Is.True, $"{path}: not a PNG signature");
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(8, 4)), Is.EqualTo(13u), $"{path}: IHDR length");
        Assert.That(System.Text.Encoding.ASCII.GetString(head, 12, 4), Is.EqualTo("IHDR"), $"{path}: first chunk");
        return ((int)BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(16, 4)),
                (int)BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(20, 4)));
    }

    /// <summary>Decodes the image and counts the pixels of a colour, each channel within <paramref name="tolerance"/>.</summary>
    public static int CountColor(string path, SKColor color, int tolerance = 40)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.That(bitmap, Is.Not.Null, $"{path} does not decode as an image");
        int count = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                if (Math.Abs(c.Red - color.Red) <= tolerance && Math.Abs(c.Green - color.Green) <= tolerance
                    && Math.Abs(c.Blue - color.Blue) <= tolerance)
                    count++;
            }
        return count;
    }

    /// <summary>
    /// Decodes the image and returns the first and last columns with a dark pixel (text, lines) in the rows
    /// <paramref name="top"/> to <paramref name="bottom"/> (inclusive); null when there is none.
    /// </summary>
    public static (int First, int Last)? DarkColumns(string path, int top, int bottom)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.That(bitmap, Is.Not.Null, $"{path} does not decode as an image");
        int first = int.MaxValue, last = -1;
        for (int y = top; y <= bottom; y++)
            for (int x = 0; x < bitmap.Width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                if (c.Red < 128 && c.Green < 128 && c.Blue < 128)
                {
                    first = Math.Min(first, x);
                    last = Math.Max(last, x);
                }
            }
        return last < 0 ? null : (first, last);
    }

    /// <summary>Decodes the image and returns the fraction of pixels that are not white (something was drawn).</summary>
    public static double InkFraction(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.That(bitmap, Is.Not.Null, $"{path} does not decode as an image");
        long ink = 0;
        for (int y = 0; y < bitmap.Height; y += 2)
            for (int x = 0; x < bitmap.Width; x += 2)
            {
                var c = bitmap.GetPixel(x, y);
                if (c.Red < 200 || c.Green < 200 || c.Blue < 200)
                    ink++;
            }
        return ink / ((bitmap.Width / 2.0) * (bitmap.Height / 2.0));
    }
}
