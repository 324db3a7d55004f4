using System.Buffers.Binary;
using System.Text;

namespace NeuronInterop.Tests.Bindings;

/// <summary>Reads the defined, exported function names from the dynamic symbol table of a 64-bit little-endian ELF shared library.</summary>
internal static class ElfExports
{
    private const uint SectionDynamicSymbols = 11;   // SHT_DYNSYM
    private const int SymbolSize = 24;                // sizeof(Elf64_Sym)
    private const byte TypeFunction = 2;              // STT_FUNC
    private const byte BindingGlobal = 1;             // STB_GLOBAL
    private const byte BindingWeak = 2;               // STB_WEAK
    private const byte VisibilityDefault = 0;         // STV_DEFAULT

    public static IReadOnlyList<string> ReadFunctionNames(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        ReadOnlySpan<byte> elf = file;
        if (elf.Length < 64 || !elf[..4].SequenceEqual("\u007fELF"u8))
        {
            throw new InvalidDataException($"{path} is not an ELF file.");
        }

        if (elf[4] != 2 || elf[5] != 1)
        {
            throw new InvalidDataException($"{path} is not a 64-bit little-endian ELF file.");
        }

        ulong sectionTable = U64(elf, 0x28);
        int sectionSize = U16(elf, 0x3A);
        int sectionCount = U16(elf, 0x3C);
        var names = new List<string>();
        for (int i = 0; i < sectionCount; i++)
        {
            ReadOnlySpan<byte> section = elf.Slice(checked((int)sectionTable + i * sectionSize), sectionSize);
            if (U32(section, 0x04) != SectionDynamicSymbols)
            {
                continue;
            }

            ulong offset = U64(section, 0x18);
            ulong size = U64(section, 0x20);
            uint link = U32(section, 0x28);
            ReadOnlySpan<byte> strings = SectionData(elf, checked((int)sectionTable + (int)link * sectionSize));
            ReadOnlySpan<byte> symbols = elf.Slice(checked((int)offset), checked((int)size));
            for (int s = 0; s + SymbolSize <= symbols.Length; s += SymbolSize)
            {
                ReadOnlySpan<byte> symbol = symbols.Slice(s, SymbolSize);
                byte info = symbol[4];
                byte other = symbol[5];
                ushort sectionIndex = U16(symbol, 6);
                bool exported = sectionIndex != 0
                    && (info & 0xF) == TypeFunction
                    && (info >> 4) is BindingGlobal or BindingWeak
                    && (other & 0x3) == VisibilityDefault;
                if (exported)
                {
                    names.Add(CString(strings, (int)U32(symbol, 0)));
                }
            }
        }

        return names;
    }

    private static ReadOnlySpan<byte> SectionData(ReadOnlySpan<byte> elf, int header)
    {
        ReadOnlySpan<byte> section = elf[header..];
        return elf.Slice(checked((int)U64(section, 0x18)), checked((int)U64(section, 0x20)));
    }

    private static string CString(ReadOnlySpan<byte> strings, int offset)
    {
        ReadOnlySpan<byte> rest = strings[offset..];
        int end = rest.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
    }

    private static ushort U16(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(data[offset..]);

    private static uint U32(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(data[offset..]);

    private static ulong U64(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(data[offset..]);
}
